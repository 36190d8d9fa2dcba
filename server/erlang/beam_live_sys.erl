%% The system messages of an upgrade, as sys sends them (suspend, get_state, change_code,
%% replace_state, resume), sent by the runner itself so that each process costs one round trip
%% and a group of processes shares one time budget.
%%
%% Release mode sends to one process after the other, as release_handler_1 does; parallel mode
%% sends the same message to a batch of ?WINDOW processes and then gathers the replies (in the
%% spirit of sys:multi_suspend), one sender per scheduler.
-module(beam_live_sys).
-export([suspend/3, change_code/6, replace_state/3, replace_state_async/2, resume/2, is_suspended/1]).
-include("beam_live.hrl").

-define(WINDOW, 512).
-define(SAME_SAMPLE, 256).

-type budget_ms() :: non_neg_integer().

%% sys:suspend, with the rollback's snapshot of the state asked for in the same breath: the
%% get_state message is queued right behind the suspend, so both cost one round trip.
%% All suspends of one call share Budget: a process busy past what is left of it is dropped,
%% as release_handler_1 drops a pid whose suspend times out, and once the budget is spent the
%% remaining pids are not waited for at all.
-spec suspend([pid()], budget_ms(), boolean()) -> [#suspension{}].
suspend(Pids, Budget, false) ->
    Deadline = now_ms() + Budget,
    [suspend_one(P, Deadline) || P <- Pids];
suspend(Pids, Budget, true) ->
    At = now_us(),
    [case R of
         [ok, {error, _}] -> #suspension{pid = P, result = {ok, At}};
         [ok, State] -> #suspension{pid = P, result = {ok, At}, snapshot = {state, State}};
         [ok] -> #suspension{pid = P, result = {ok, At}};
         Why when is_atom(Why) ->
             Why =:= timeout andalso undo_suspend_later(P),
             #suspension{pid = P, result = {error, Why}}
     end || {P, R} <- multi(Pids, [suspend, get_state], Budget)].

suspend_one(P, Deadline) ->
    case Deadline - now_ms() of
        Left when Left =< 0 -> #suspension{pid = P, result = {error, budget}};
        Left ->
            S = now_us(),
            Mon = erlang:monitor(process, P),
            SusRef = make_ref(),
            StateRef = make_ref(),
            P ! {system, {self(), SusRef}, suspend},
            P ! {system, {self(), StateRef}, get_state},
            receive
                {SusRef, ok} ->
                    Snap = receive
                               {StateRef, {error, _}} -> nostate;
                               {StateRef, State} -> {state, State};
                               {'DOWN', Mon, process, P, _} -> nostate
                           after Left -> nostate
                           end,
                    erlang:demonitor(Mon, [flush]),
                    #suspension{pid = P, result = {ok, S}, snapshot = Snap};
                {'DOWN', Mon, process, P, _} ->
                    #suspension{pid = P, result = {error, noproc}}
            after Left ->
                erlang:demonitor(Mon, [flush]),
                undo_suspend_later(P),
                #suspension{pid = P, result = {error, timeout}}
            end
    end.

%% The suspend request is still queued: have it undone once the process gets to it, without
%% waiting here (release_handler_1's own catch sys:resume).
undo_suspend_later(P) ->
    spawn(fun() -> catch sys:resume(P, 60000) end).

%% sys:change_code on each pid, then get_state, so that the result says whether code_change
%% changed the state (Before gives the snapshot taken at suspend).
%% All code_changes of one call share Budget. Release mode stops at the first failing pid, as
%% release_handler_1 does: the pids after it are not called. Parallel mode runs them together.
-spec change_code([pid()], module(), term(), term(), {budget_ms(), boolean()}, fun((pid()) -> {ok, term()} | error)) -> [#change{}].
%% Whether the state changed is read for the first ?SAME_SAMPLE processes of the call, after
%% their code_changes, in windows; the others get the sample's answer (a state copied per
%% process would double the cost of a code_change on a big node).
change_code(Pids, M, Vsn, Extra, {Budget, false}, Before) ->
    Results = change_seq(Pids, M, Vsn, Extra, now_ms() + Budget),
    Sample = lists:sublist([P || #change{pid = P, result = ok} <- Results], ?SAME_SAMPLE),
    After = maps:from_list([{P, S} || {P, [S]} <- lists:append([multi_batch(B, [get_state], 5000) || B <- batches(Sample, ?WINDOW)])]),
    with_same(Results, After, Before);
change_code(Pids, M, Vsn, Extra, {Budget, true}, Before) ->
    S = now_us(),
    {Sample, Rest} = take(Pids, ?SAME_SAMPLE, []),
    Replies = multi(Sample, [{change_code, M, Vsn, Extra}, get_state], Budget) ++ multi(Rest, [{change_code, M, Vsn, Extra}], Budget),
    Results = [case R of
                   [ok | _] -> #change{pid = P, module = M, result = ok, us = now_us() - S, same = unknown};
                   [{error, E} | _] -> #change{pid = P, module = M, result = {error, E}, us = now_us() - S};
                   noproc -> #change{pid = P, module = M, result = gone};
                   Why -> #change{pid = P, module = M, result = {error, Why}, us = now_us() - S}
               end || {P, R} <- Replies],
    with_same(Results, maps:from_list([{P, A} || {P, [ok, A]} <- Replies]), Before).

with_same(Results, After, Before) ->
    Sampled = [{P, same(Before(P), A)} || {P, A} <- maps:to_list(After)],
    All = lists:all(fun({_, Same}) -> Same end, Sampled),
    SameOf = maps:from_list(Sampled),
    [case R of
         #change{pid = P, result = ok} -> R#change{same = maps:get(P, SameOf, All)};
         _ -> R
     end || R <- Results].

change_seq([], _M, _Vsn, _Extra, _Deadline) -> [];
change_seq([P | Ps], M, Vsn, Extra, Deadline) ->
    R = change_one(P, M, Vsn, Extra, Deadline - now_ms()),
    case R of
        #change{result = {error, _}} -> [R | [#change{pid = Q, module = M, result = not_called} || Q <- Ps]];
        _ -> [R | change_seq(Ps, M, Vsn, Extra, Deadline)]
    end.

change_one(P, M, _Vsn, _Extra, Left) when Left =< 0 ->
    #change{pid = P, module = M, result = {error, timeout}};
change_one(P, M, Vsn, Extra, Left) ->
    S = now_us(),
    Mon = erlang:monitor(process, P),
    Ref = make_ref(),
    P ! {system, {self(), Ref}, {change_code, M, Vsn, Extra}},
    R = receive
            {Ref, ok} -> ok;
            {Ref, {error, E}} -> {error, E};
            {Ref, Other} -> {error, Other};
            {'DOWN', Mon, process, P, _} -> gone
        after Left -> {error, timeout}
        end,
    erlang:demonitor(Mon, [flush]),
    #change{pid = P, module = M, result = R, us = now_us() - S}.

same({ok, Before}, After) -> Before =:= After;
same(error, _) -> false.

%% Puts a saved state back (sys:replace_state), waiting for it.
-spec replace_state(pid(), term(), timeout()) -> ok | {error, term()}.
replace_state(P, S, T) ->
    try sys:replace_state(P, fun(_) -> S end, T) of
        _ -> ok
    catch C:E -> {error, {C, E}}
    end.

%% Queues the restore without waiting: a code_change that timed out may still be running, and
%% the process handles the restore right after it, then the resume queued behind.
-spec replace_state_async(pid(), term()) -> ok.
replace_state_async(P, S) ->
    P ! {system, {self(), make_ref()}, {replace_state, fun(_) -> S end}},
    ok.

%% Release mode resumes in OTP's order, one sender, but does not wait for each reply before
%% sending the next resume: the processes wake in the same order, the waiting is per window.
-spec resume([pid()], boolean()) -> [{pid(), ok | {error, term()}, integer()}].
resume(Pids, Parallel) ->
    Replies = case Parallel of
                  true -> multi(Pids, [resume], 5000);
                  false -> lists:append([multi_batch(B, [resume], 5000) || B <- batches(Pids, ?WINDOW)])
              end,
    [{P, case R of [ok] -> ok; Why -> {error, Why} end, now_us()} || {P, R} <- Replies].

-spec is_suspended(pid()) -> boolean().
is_suspended(P) ->
    try sys:get_status(P, 1000) of
        {status, _, _, [_, suspended | _]} -> true;
        _ -> false
    catch _:_ -> false
    end.

%% ---- batches --------------------------------------------------------------------------------

%% -> [{Pid, [Reply] | timeout | noproc}] in the order given.
multi(Pids, Reqs, T) ->
    %% One sender per scheduler, each batching its share: the senders' own work (a send and a
    %% receive per process) is spread over the cores too.
    N = erlang:system_info(schedulers_online),
    Deadline = now_ms() + T,
    Self = self(),
    Refs = [begin
                R = make_ref(),
                spawn_link(fun() -> Self ! {R, lists:append([multi_batch(B, Reqs, max(0, Deadline - now_ms())) || B <- batches(Share, ?WINDOW)])} end),
                R
            end || Share <- split(Pids, N)],
    lists:append([receive {R, V} -> V end || R <- Refs]).

split(L, N) ->
    batches(L, max(1, (length(L) + N - 1) div N)).

batches([], _) -> [];
batches(L, N) ->
    {B, Rest} = take(L, N, []),
    [B | batches(Rest, N)].

take(Rest, 0, Acc) -> {lists:reverse(Acc), Rest};
take([], _, Acc) -> {lists:reverse(Acc), []};
take([X | Xs], N, Acc) -> take(Xs, N - 1, [X | Acc]).

multi_batch(Pids, Reqs, T) ->
    Ref = make_ref(),
    Self = self(),
    Tagged = lists:zip(lists:seq(1, length(Reqs)), Reqs),
    send_batch(Pids, 1, Self, Ref, Tagged),
    %% The replies go to the sender's process dictionary (the sender is ours alone and lives
    %% for this call): no map to grow and search, one cheap write and one read per reply.
    gather(Ref, length(Pids) * length(Tagged), now_ms() + T),
    collect(Pids, 1, [K || {K, _} <- Tagged]).

send_batch([], _I, _Self, _Ref, _Tagged) -> ok;
send_batch([P | Ps], I, Self, Ref, Tagged) ->
    [P ! {system, {Self, {Ref, I, K}}, Req} || {K, Req} <- Tagged],
    send_batch(Ps, I + 1, Self, Ref, Tagged).

collect([], _I, _Ks) -> [];
collect([P | Ps], I, Ks) ->
    %% Wrapped, since a state may well be the atom undefined.
    Rs = [erase({I, K}) || K <- Ks],
    R = case lists:member(undefined, Rs) of
            false -> [Reply || {r, Reply} <- Rs];
            true -> case is_process_alive(P) of true -> timeout; false -> noproc end
        end,
    [{P, R} | collect(Ps, I + 1, Ks)].

gather(_Ref, 0, _Deadline) -> ok;
gather(Ref, N, Deadline) ->
    receive
        {{Ref, I, K}, Reply} ->
            put({I, K}, {r, Reply}),
            gather(Ref, N - 1, Deadline)
    after max(0, Deadline - now_ms()) -> ok
    end.

now_us() -> erlang:monotonic_time(microsecond).
now_ms() -> erlang:monotonic_time(millisecond).
