%% The soft purge after an upgrade, run after its reply. code:soft_purge/1 asks every process
%% of the node whether it still runs the old code (erlang:check_process_code/2), and then every
%% process again to release the old code's literals: on a node of 100,000 processes that is
%% half a second, while what the upgrade reports (new code loaded, code_change run, everyone
%% resumed) is already true without it. release_handler_1 soft-purges after each load as part
%% of the script; here the same purge follows the reply, and who still runs old code is known
%% when it ends (result/2).
%%
%% One purger process runs the purges in the order they were started and keeps the latest
%% results. A plan, an upgrade and a rollback first wait for it (idle/1), so that they see the
%% node as the purge left it, not a second scan of old code about to go.
-module(beam_live_purge).
-export([start/1, result/2, idle/0, idle/1, purger_loop/1]).

-define(PURGER, beam_live_purge).
-define(KEEP, 16).

%% Starts the soft purge of Mods after everything started before; -> its id.
-spec start([module()]) -> pos_integer().
start(Mods) ->
    Id = erlang:unique_integer([positive]),
    purger() ! {purge, Id, Mods},
    Id.

%% #{unpurged, old_code, soft_purge_ms, ended_us} of those purges once they ran; unknown when one is no
%% longer kept (or the purger died); timeout when they have not ended within Timeout ms.
-spec result([pos_integer()], non_neg_integer()) -> map() | unknown | timeout.
result(Ids, Timeout) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    Rs = [call({result, Id}, max(0, Deadline - erlang:monotonic_time(millisecond))) || Id <- Ids],
    case [R || R <- Rs, not is_map(R)] of
        [] when Rs =/= [] -> #{unpurged => lists:append([U || #{unpurged := U} <- Rs]),
                old_code => lists:append([O || #{old_code := O} <- Rs]),
                soft_purge_ms => lists:sum([Ms || #{soft_purge_ms := Ms} <- Rs]),
                ended_us => lists:max([E || #{ended_us := E} <- Rs])};
        [Why | _] -> Why;
        [] -> unknown
    end.

%% Returns once every purge started before has ended; one that takes longer than half a minute
%% is not waited for (the question then scans beside it, as it would have without the wait).
-spec idle() -> ok | timeout.
idle() -> idle(30000).

-spec idle(timeout()) -> ok | timeout.
idle(Timeout) ->
    case whereis(?PURGER) of
        undefined -> ok;
        _ -> case call(idle, Timeout) of timeout -> timeout; _ -> ok end
    end.

purger() -> beam_live_keeper:registered(?PURGER, fun() -> purger_loop([]) end).

%% Purges first, in the order started: a question is answered once the purges before it ran.
%% Fully qualified, so that a newer agent takes the loop over.
-spec purger_loop([{pos_integer(), map()}]) -> no_return().
purger_loop(Done) ->
    receive
        {purge, Id, Mods} -> ?MODULE:purger_loop(purge(Id, Mods, Done))
    after 0 ->
        receive
            {purge, Id, Mods} -> ?MODULE:purger_loop(purge(Id, Mods, Done));
            {From, Ref, {result, Id}} ->
                From ! {Ref, case lists:keyfind(Id, 1, Done) of {_, R} -> R; false -> unknown end},
                ?MODULE:purger_loop(Done);
            {From, Ref, idle} ->
                From ! {Ref, ok},
                ?MODULE:purger_loop(Done)
        end
    end.

purge(Id, Mods, Done) ->
    T0 = erlang:monotonic_time(microsecond),
    {Unpurged, OldCode} = beam_live_reach:soft_purge(Mods),
    T1 = erlang:monotonic_time(microsecond),
    R = #{unpurged => Unpurged, old_code => OldCode, soft_purge_ms => (T1 - T0) / 1000, ended_us => T1},
    lists:sublist([{Id, R} | Done], ?KEEP).

call(Msg, Timeout) ->
    P = purger(),
    Mon = monitor(process, P),
    Ref = make_ref(),
    P ! {self(), Ref, Msg},
    receive
        {Ref, R} -> demonitor(Mon, [flush]), R;
        {'DOWN', Mon, process, P, _} -> unknown
    after Timeout ->
        demonitor(Mon, [flush]),
        timeout
    end.
