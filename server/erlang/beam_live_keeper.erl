%% The last successful upgrade, kept on the node (so that a later session can undo it), and
%% its undo: a downgrade, as release_handler_1 runs a relup's down script. Suspend;
%% code_change({down, OldVsn}) in the current code for dynamic modules; load the old binary;
%% code_change down after the load for static ones (supervisors); resume. The state each
%% process holds now is its own: a snapshot from the upgrade is put back only on request.
-module(beam_live_keeper).
-export([remember/5, keep_journal/1, last/0, stash/1, scan/1, scan/2, initial_table/0, forget_exited/1, downgrade/3, restore_binary/4]).
-export([keeper_loop/1, registered/2]).
-include("beam_live.hrl").

-define(KEEPER, beam_live_keeper).

%% States: [{Pid, Module, CodeChangeLeftItUnchanged}]; the snapshots taken at the upgrade stay
%% in Journal ({{snap, Pid}, State}), which the upgrade's watchdog hands over (keep_journal/1).
-spec remember([map()], [[module()]], [map()], ets:tid(), [{pid(), module(), boolean()}]) -> ok | undefined.
remember(Specs, Blocks, Versions, Journal, States) ->
    call(keeper(), {put, #{modules => [maps:without([binary], S) || S <- Specs],
                           blocks => Blocks,
                           versions => Versions,
                           journal => Journal,
                           states => States,
                           at => erlang:system_time(millisecond)}}).

%% Called by the table's owner: the keeper owns it from now on.
-spec keep_journal(ets:tid()) -> ok.
keep_journal(Tab) ->
    ets:give_away(Tab, keeper(), journal),
    ok.

-spec last() -> map() | undefined.
last() ->
    case whereis(?KEEPER) of
        undefined -> undefined;
        K -> call(K, get)
    end.

%% A plan's scan of the node's processes ([{Pid, Module, How}]), kept for the upgrade of that
%% plan and the checks after it: only the latest one, so that a plan never followed by its
%% upgrade holds nothing for long.
-spec stash([{pid(), module(), atom()}]) -> pos_integer() | undefined.
stash(Scan) -> call(keeper(), {stash, Scan}).

%% The kept scan, without the processes that have exited since; undefined once replaced.
-spec scan(pos_integer() | undefined) -> [{pid(), module(), atom()}] | undefined.
scan(Id) -> scan(Id, all).

%% The same for some modules only: the keeper filters, so that only their entries are copied.
-spec scan(pos_integer() | undefined, all | #{module() => true}) -> [{pid(), module(), atom()}] | undefined.
scan(undefined, _) -> undefined;
scan(Id, Mods) ->
    case call(keeper(), {scan, Id, Mods}) of
        undefined -> undefined;
        Scan -> [X || {P, _, _} = X <- Scan, is_process_alive(P)]
    end.

%% The table of each process's initial module (beam_live_agent:module_processes/1), owned by
%% the keeper so that it outlives the calls that fill it; undefined if it cannot be had.
-define(INITIAL, beam_live_initial).
-spec initial_table() -> atom() | undefined.
initial_table() ->
    case ets:whereis(?INITIAL) of
        undefined ->
            _ = call(keeper(), initial_table),
            case ets:whereis(?INITIAL) of undefined -> undefined; _ -> ?INITIAL end;
        _ -> ?INITIAL
    end.

%% Exited processes leave the table once it holds twice as many as run.
-spec forget_exited(atom() | undefined) -> ok.
forget_exited(undefined) -> ok;
forget_exited(Tab) ->
    case ets:info(Tab, size) > 2 * erlang:system_info(process_count) + 1000 of
        true -> ets:foldl(fun({P, _}, ok) -> is_process_alive(P) orelse ets:delete(Tab, P), ok end, ok, Tab);
        false -> ok
    end.

keeper() -> registered(?KEEPER, fun() -> keeper_loop(undefined) end).

%% The process registered as Name, started with Loop when there is none (two callers at once:
%% one registers, the other's start goes).
-spec registered(atom(), fun(() -> no_return())) -> pid().
registered(Name, Loop) ->
    case whereis(Name) of
        undefined ->
            P = spawn(Loop),
            try register(Name, P) of
                true -> P
            catch error:badarg ->
                exit(P, kill),
                whereis(Name)
            end;
        P -> P
    end.

%% Fully qualified, so that a newer agent takes the keeper over instead of killing it.
-spec keeper_loop(map() | undefined) -> no_return().
keeper_loop(Last) ->
    receive
        {From, Ref, get} -> From ! {Ref, Last}, ?MODULE:keeper_loop(Last);
        {From, Ref, {put, New}} -> drop(Last), From ! {Ref, ok}, ?MODULE:keeper_loop(New);
        {From, Ref, clear} -> drop(Last), From ! {Ref, ok}, ?MODULE:keeper_loop(undefined);
        {From, Ref, {stash, Scan}} ->
            Id = erlang:unique_integer([positive]),
            erase(), put(Id, Scan),
            From ! {Ref, Id}, ?MODULE:keeper_loop(Last);
        {From, Ref, {scan, Id, Mods}} ->
            From ! {Ref, case get(Id) of
                             Scan when is_list(Scan), is_map(Mods) -> [X || {_, M, _} = X <- Scan, is_map_key(M, Mods)];
                             Scan -> Scan
                         end},
            ?MODULE:keeper_loop(Last);
        {From, Ref, initial_table} ->
            catch ets:new(?INITIAL, [named_table, public, set, {read_concurrency, true}, {write_concurrency, true}]),
            From ! {Ref, ok}, ?MODULE:keeper_loop(Last);
        {'ETS-TRANSFER', _Tab, _From, journal} -> ?MODULE:keeper_loop(Last)
    end.

%% The journal of an upgrade nobody can roll back any more.
drop(#{journal := Tab}) -> catch ets:delete(Tab), ok;
drop(_) -> ok.

call(K, Msg) ->
    Ref = make_ref(),
    K ! {self(), Ref, Msg},
    receive {Ref, R} -> R after 5000 -> undefined end.

%% ---- the downgrade --------------------------------------------------------------------------

%% Req: #{suspend_timeout, code_change_timeout, restore_snapshot => boolean()}.
%% Where no down clause matches a process whose state the upgrade changed, nothing is done and
%% the processes are named: the snapshot is put back only with restore_snapshot.
-spec downgrade(map(), map(), ets:tid()) -> map().
downgrade(#{modules := Specs, blocks := Blocks, versions := Versions, states := States0, journal := Journal, at := At}, Req, Tab) ->
    T0 = erlang:monotonic_time(microsecond),
    ST = maps:get(suspend_timeout, Req),
    CT = maps:get(code_change_timeout, Req),
    Restore = maps:get(restore_snapshot, Req, false),
    Age = erlang:system_time(millisecond) - At,
    ByMod = maps:from_list([{M, S} || #{module := M} = S <- Specs]),
    %% A relup's down script runs the blocks in reverse.
    Order = lists:append(lists:reverse(Blocks)),
    States = [{P, M, snapshot(Journal, P), Same} || {P, M, Same} <- States0],
    Live = [X || M <- Order, {P, M2, _, _} = X <- States, M2 =:= M, is_process_alive(P)],
    case {beam_live_reach:predicted_kills(Order), maps:get(confirm_kills, Req, true)} of
        {[_ | _] = Kills, false} ->
            %% Asked first: loading the old code back kills whoever still runs the code older
            %% than it, and the user decides.
            #{ok => false, needs_confirmation => true, kills => Kills, snapshot_age_ms => Age,
              error => <<"rolling back kills processes that still run old code">>,
              modules => [], processes => [], refused => [], not_suspended => [], resumed => 0,
              loads => [], old_code => [], unpurged => [], killed => [],
              timings => #{total_ms => ms_since(T0)}};
        _ ->
            downgrade_confirmed(Live, Order, ByMod, Versions, Restore, Age, ST, CT, T0, Tab)
    end.

downgrade_confirmed(Live, Order, ByMod, Versions, Restore, Age, ST, CT, T0, Tab) ->
    Victims = [{M, V} || M <- Order, V <- beam_live_reach:victims(M)],
    Pids = beam_live_reach:dedup([P || {P, _, _, _} <- Live]),
    ets:insert(Tab, {{block, 1}, suspending, [], Pids}),
    Suspended = beam_live_sys:suspend(Pids, ST, false),
    SusPids = [P || #suspension{pid = P, result = {ok, _}} <- Suspended],
    ets:insert(Tab, {{block, 1}, suspended, [], SusPids}),
    Now = maps:from_list([{P, S} || #suspension{pid = P, result = {ok, _}, snapshot = {state, S}} <- Suspended]),
    Vsn = fun(M) -> hd([V || #{module := M2, old_vsn_term := V} <- Versions, M2 =:= M]) end,
    Extra = fun(M) -> maps:get(extra, maps:get(M, ByMod), []) end,
    Dynamic = fun(M) -> maps:get(instruction, maps:get(M, ByMod)) =:= update end,
    Downs = [{P, M, down(P, M, Vsn(M), Extra(M), CT, Now)}
             || {P, M, _, _} <- Live, lists:member(P, SusPids), Dynamic(M)],
    Unchanged = maps:from_list([{P, Same} || {P, _, _, Same} <- Live]),
    Refused = [{P, M, Why} || {P, M, {failed, Why}} <- Downs, not maps:get(P, Unchanged), not Restore],
    case Refused of
        [_ | _] ->
            %% Change nothing: the states some down clauses already changed go back.
            [beam_live_sys:replace_state(P, maps:get(P, Now), CT) || {P, _, changed} <- Downs, maps:is_key(P, Now)],
            beam_live_sys:resume(lists:reverse(SusPids), false),
            #{ok => false,
              refused => [(beam_live_reach:summary(P, M))#{reason => show(Why)} || {P, M, Why} <- Refused],
              snapshot_age_ms => Age,
              error => iolist_to_binary(
                         io_lib:format("~b process(es) have no code_change clause for {down, Vsn} and their state was changed by the upgrade: "
                                       "rolling back would run the old code on the new state. Nothing was changed. "
                                       "Add a code_change({down, _}, ...) clause, or restore the snapshot taken at the upgrade "
                                       "(~b s ago, --restore-snapshot), which drops what those processes did since.",
                                       [length(Refused), Age div 1000])),
              modules => [], processes => [], not_suspended => [], resumed => length(SusPids),
              loads => [], old_code => [], unpurged => [], killed => [],
              timings => #{total_ms => ms_since(T0)}};
        [] ->
            Snapshots = maps:from_list([{P, S} || {P, _, S, _} <- Live]),
            Restored = [{P, beam_live_sys:replace_state(P, maps:get(P, Snapshots), CT)}
                        || {P, _, {failed, _}} <- Downs, not maps:get(P, Unchanged)],
            Killed = [beam_live_reach:kill(M, V, <<"ran old code purged by the rollback's load">>) || M <- lists:usort([M || {M, _} <- Victims]), V <- [[X || {M2, X} <- Victims, M2 =:= M]]],
            ets:insert(Tab, {{block, 1}, loaded, [], SusPids}),
            Loads = [restore_binary(M, maps:get(instruction, S), maps:get(old_binary, S, undefined),
                                    maps:get(old_file, S, maps:get(file, S, undefined)))
                     || M <- Order, S <- [maps:get(M, ByMod)]],
            %% Static modules (supervisors) change after the load, in the old code.
            Statics = [{P, M, down(P, M, Vsn(M), Extra(M), CT, Now)}
                       || {P, M, _, _} <- Live, lists:member(P, SusPids), not Dynamic(M),
                          maps:get(instruction, maps:get(M, ByMod)) =:= supervisor],
            Resumed = beam_live_sys:resume(lists:reverse(SusPids), false),
            {Unpurged, OldCode} = beam_live_reach:soft_purge(Order),
            call(keeper(), clear),
            How = maps:from_list([{P, how(R, maps:get(P, Unchanged))} || {P, _, R} <- Downs ++ Statics]),
            Failed = [L || #{result := R} = L <- Loads, R =/= ok],
            #{ok => Failed =:= [],
              error => case Failed of [] -> undefined; _ -> show(Failed) end,
              snapshot_age_ms => Age,
              restored => length([ok || {_, ok} <- Restored]),
              modules => [#{module => M, old_vsn => NewVsn, new_vsn => OldVsn}
                          || #{module := M, old_vsn := OldVsn, new_vsn := NewVsn} <- Versions],
              processes => [(beam_live_reach:summary(P, M))#{how => maps:get(P, How, kept)}
                            || {P, M, _, _} <- Live, lists:member(P, SusPids)],
              not_suspended => [list_to_binary(pid_to_list(P)) || #suspension{pid = P, result = {error, _}} <- Suspended],
              killed => [maps:without([pid_term, sup_term], K) || K <- lists:append(Killed)],
              resumed => length(Resumed),
              loads => [L#{result => show_reason(R)} || #{result := R} = L <- Loads],
              old_code => OldCode,
              unpurged => Unpurged,
              timings => #{total_ms => ms_since(T0)}}
    end.

%% code_change {down, Vsn} in the process: changed (it returned another state), same, or
%% failed (no clause matched, or it raised: sys keeps the state as it was).
down(P, M, OldVsn, Extra, T, Now) ->
    Before = fun(Q) -> maps:find(Q, Now) end,
    case beam_live_sys:change_code([P], M, {down, OldVsn}, Extra, {T, false}, Before) of
        [#change{result = ok, same = true}] -> same;
        [#change{result = ok}] -> changed;
        [#change{result = {error, Why}}] -> {failed, Why};
        [#change{result = Other}] -> {failed, Other}
    end.

how(changed, _) -> code_change_down;
how(same, _) -> code_change_down;
how({failed, _}, true) -> kept;
how({failed, _}, false) -> snapshot.

%% The old binary back as current, where the node no longer runs it; an added module goes.
-spec restore_binary(module(), atom(), binary() | undefined, string() | undefined) -> map().
restore_binary(M, add_module, _, _) ->
    code:delete(M),
    code:soft_purge(M),
    #{module => M, result => ok};
restore_binary(M, _, undefined, _) ->
    #{module => M, result => {error, no_old_binary}};
restore_binary(M, _, Old, File) ->
    Loaded = case code:is_loaded(M) of false -> undefined; _ -> erlang:get_module_info(M, md5) end,
    case beam_lib:md5(Old) of
        {ok, {_, Loaded}} -> #{module => M, result => ok};
        _ ->
            case code:load_binary(M, File, Old) of
                {module, M} -> #{module => M, result => ok};
                {error, E} -> #{module => M, result => {error, E}}
            end
    end.

snapshot(Journal, P) ->
    case catch ets:lookup(Journal, {snap, P}) of
        [{_, S}] -> S;
        _ -> undefined
    end.

ms_since(T0) -> (erlang:monotonic_time(microsecond) - T0) / 1000.

show(T) -> iolist_to_binary(io_lib:format("~0tp", [T])).
show_reason(ok) -> ok;
show_reason(R) -> show(R).
