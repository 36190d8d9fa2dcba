%% The upgrade, run on the target node itself: suspend, load, code_change, resume, as
%% release_handler_1 does it (../shared/OTP_SEMANTICS.md §3–5), made transactional.
%%
%% - The process set is found in one pass on the node; only results cross the wire.
%% - Purges are kept off the suspended path: old code is purged before anyone is suspended
%%   (killing exactly whom load_binary's own purge would have killed), and the soft_purge runs
%%   after everyone is resumed.
%% - A watchdog resumes every process the runner suspended if the runner dies or overruns, and
%%   tells the runner to abort and roll back if its caller (the bridge) disappears.
%% - The last successful upgrade is kept in a keeper process, so that rollback/1 can undo it
%%   from a later session.
-module(beam_live_upgrade).
-export([upgrade/1, plan/1, rollback/1, last/0, suspended/1]).
-export([keeper_loop/1]).

-define(KEEPER, beam_live_keeper).
-define(WINDOW, 512).
-define(FUN_SAMPLE, 1000).

%% ---- entry points ---------------------------------------------------------------------------

%% Req: #{modules => [#{module, instruction, binary, file, old_binary, old_file, extra}],
%%        mode => release | all, on_failure => rollback | resume, parallel => boolean(),
%%        suspend_timeout => Ms, code_change_timeout => Ms, caller => pid() | undefined,
%%        hooks => #{pause_after_suspend => Ms}}
upgrade(Req) ->
    supervise_run(fun(Wd) -> run(Req, Wd) end, Req).

%% The processes each suspend would reach and those a release would miss; changes nothing.
plan(Req) ->
    Mods = maps:get(modules, Req),
    {Reach, Missed, DevOnly} = discover(Mods, maps:get(mode, Req, release)),
    Changed = [maps:get(module, M) || M <- Mods],
    Users = [(proc_summary(P, M))#{callback => callback(P)}
             || {P, Ms} <- beam_live_agent:supervised_procs(), is_list(Ms), M <- Changed, lists:member(M, Ms)],
    #{reach => [(proc_summary(P, M))#{dev_only => maps:is_key(P, DevOnly)} || {P, M} <- Reach],
      missed => Missed,
      users => Users,
      versions => [maps:remove(old_vsn_term, versions(M)) || M <- Mods]}.

%% An Agent records the fun it runs as its initial call; its real callback is Agent.Server,
%% whose code_change applies Extra as a function.
callback(P) ->
    case beam_live_agent:initial_module(P) of
        {M, fun_server} ->
            case erlang:process_info(P, current_function) of
                {current_function, {gen_server, _, _}} -> 'Elixir.Agent.Server';
                _ -> M
            end;
        {M, _} -> M;
        undefined -> undefined
    end.

%% Undoes the last successful upgrade: code_change {down, Vsn} where the module defines one
%% that changes the state, else the saved state; then the old binaries. Same watchdog.
rollback(Req) ->
    case last() of
        undefined -> #{ok => false, error => no_upgrade_to_roll_back};
        Last -> supervise_run(fun(Wd) -> run_rollback(Last, Req, Wd) end, Req)
    end.

last() ->
    case whereis(?KEEPER) of
        undefined -> undefined;
        K -> call_keeper(K, get)
    end.

%% The pids among Pids that are suspended right now (for tests and the fault suite).
suspended(Pids) ->
    [P || P <- Pids, is_suspended(P)].

%% ---- runner and watchdog --------------------------------------------------------------------

supervise_run(Fun, Req) ->
    Self = self(),
    Ref = make_ref(),
    Deadline = deadline(Req),
    Wd = spawn(fun() -> watchdog_init(maps:get(caller, Req, undefined), Deadline) end),
    Runner = spawn(fun() ->
                       Result = try Fun(Wd)
                                catch C:R:St -> #{ok => false, error => {crashed, C, R, St}}
                                end,
                       Self ! {Ref, Result}
                   end),
    Wd ! {runner, Runner},
    MRef = monitor(process, Runner),
    receive
        {Ref, Result} ->
            demonitor(MRef, [flush]),
            Wd ! done,
            Result;
        {'DOWN', MRef, process, Runner, Why} ->
            %% The watchdog has already resumed whatever the runner had suspended.
            #{ok => false, error => {runner_died, Why}}
    end.

deadline(Req) ->
    ST = maps:get(suspend_timeout, Req, 5000),
    CT = maps:get(code_change_timeout, Req, 5000),
    Pause = maps:get(pause_after_suspend, maps:get(hooks, Req, #{}), 0),
    maps:get(deadline, Req, 60000 + 4 * (ST + CT) + Pause).

watchdog_init(Caller, Deadline) ->
    receive {runner, Runner} -> ok end,
    MR = monitor(process, Runner),
    case Caller of
        P when is_pid(P) -> monitor(process, P);
        _ -> ok
    end,
    End = erlang:monotonic_time(millisecond) + Deadline,
    watchdog(#{runner => Runner, mr => MR, suspended => [], resumed => [], end_at => End}).

%% The lists are kept as they come and only compared when the watchdog has to act: the cost
%% of watching stays off the upgrade's path.
watchdog(#{runner := Runner, mr := MR, end_at := End} = S) ->
    Left = max(0, End - erlang:monotonic_time(millisecond)),
    receive
        {suspending, Pids} ->
            watchdog(S#{suspended := [Pids | maps:get(suspended, S)]});
        {resumed, Pids} ->
            watchdog(S#{resumed := [Pids | maps:get(resumed, S)]});
        done ->
            ok;
        {'DOWN', MR, process, Runner, _} ->
            resume_all(still_suspended(S));
        {'DOWN', _, process, _Caller, _} ->
            %% The bridge is gone: nobody will read the report. Roll back rather than leave
            %% half an upgrade nobody asked to keep.
            Runner ! caller_down,
            watchdog(S)
    after Left ->
        exit(Runner, kill),
        resume_all(still_suspended(S))
    end.

still_suspended(#{suspended := Sus, resumed := Res}) ->
    Done = maps:from_list([{P, true} || L <- Res, P <- L]),
    [P || L <- lists:reverse(Sus), P <- L, not maps:is_key(P, Done)].

resume_all(Pids) ->
    [catch sys:resume(P, 5000) || P <- lists:reverse(Pids)],
    ok.

%% Between steps the runner looks for an abort from its watchdog.
check_abort() ->
    receive caller_down -> throw({abort, caller_down})
    after 0 -> ok
    end.

pause(0) -> ok;
pause(Ms) ->
    receive caller_down -> throw({abort, caller_down})
    after Ms -> ok
    end.

%% ---- the upgrade ----------------------------------------------------------------------------

run(Req, Wd) ->
    T0 = now_us(),
    Mods = maps:get(modules, Req),
    Mode = maps:get(mode, Req, release),
    Policy = maps:get(on_failure, Req, rollback),
    Parallel = maps:get(parallel, Req, false),
    ST = maps:get(suspend_timeout, Req, 5000),
    CT = maps:get(code_change_timeout, Req, 5000),
    Hooks = maps:get(hooks, Req, #{}),
    Versions = [versions(M) || M <- Mods],
    %% §3: nothing changes before here.
    {Reach, MissedOrTask, DevOnly} = discover(Mods, Mode, Parallel),
    T1 = now_us(),
    Killed = pre_purge([maps:get(module, M) || M <- Mods]),
    T2 = now_us(),
    %% §4–5: suspend, in module order, each pid once.
    %% One suspending module reaches each pid once; several may share pids.
    SuspendOrder = case lists:usort([M || {_, M} <- Reach]) of
                       [_] -> [P || {P, _} <- Reach];
                       _ -> dedup([P || {P, _} <- Reach])
                   end,
    Wd ! {suspending, SuspendOrder},
    Suspended0 = suspend_and_snapshot(SuspendOrder, ST, Parallel),
    T3 = now_us(),
    Suspended = [{P, R} || {P, R, _} <- Suspended0],
    Snap = maps:from_list([{P, S} || {P, {ok, _}, {state, S}} <- Suspended0]),
    NotSuspended = [P || {P, {error, _}} <- Suspended],
    SusPids = [P || {P, {ok, _}} <- Suspended],
    Wd ! {resumed, NotSuspended},
    Result =
        try
            pause(maps:get(pause_after_suspend, Hooks, 0)),
            %% In parallel mode the look for stored funs overlaps the load and the code_changes.
            %% Only the sampled states go with the task: a closure over the whole snapshot
            %% would copy every state into the task's heap.
            Sample = sample_states(Snap, Reach),
            FunsTask = task(Parallel, fun() -> stored_funs(Sample, [M || #{module := M} <- Mods, creates_funs(M)]) end),
            %% The last moment to abort with nothing to undo; past the load the runner finishes
            %% the upgrade under its failure policy, bounded by the code_change timeouts.
            check_abort(),
            T4 = now_us(),
            Loads = load_all(lists:reverse(Mods)),
            T5 = now_us(),
            %% Parallel mode: the old code's soft purge runs beside the code_changes and the
            %% resume (the suspended processes run sys's code, not the old code).
            put(beam_live_purge, Parallel andalso task(true, fun() -> soft_purge([maps:get(module, M) || M <- Mods]) end)),
            LoadFailure = [L || #{result := {error, _}} = L <- Loads],
            Changes = case LoadFailure of
                          [] -> code_change(Mods, Versions, Reach, NotSuspended, CT, Parallel);
                          _ -> []
                      end,
            T6 = now_us(),
            Failure = case LoadFailure of
                          [#{module := LM, result := {error, LE}} | _] -> {load, LM, LE};
                          [] -> first_failure(Changes)
                      end,
            Funs = await(FunsTask),
            case {Failure, Policy} of
                {none, _} ->
                    {ok, #{snapshot => Snap, loads => Loads, changes => Changes, rolled_back => false,
                           stored_funs => Funs, t => [T4, T5, T6]}};
                {_, rollback} ->
                    RB = roll_back([M || #{module := Mod} = M <- Mods, loaded_ok(Mod, Loads)], Snap, Changes),
                    {failed, #{snapshot => Snap, loads => Loads, changes => Changes, rolled_back => true,
                               stored_funs => Funs, rollback => RB, failure => Failure, t => [T4, T5, T6]}};
                {_, resume} ->
                    {failed, #{snapshot => Snap, loads => Loads, changes => Changes, rolled_back => false,
                               stored_funs => Funs, failure => Failure, t => [T4, T5, T6]}}
            end
        catch
            throw:{abort, Why} ->
                %% Nothing was loaded yet: resuming leaves the node as it was.
                {aborted, Why}
        end,
    T7 = now_us(),
    %% Off the suspended path: soft_purge as the release handler does, after the resume (in
    %% parallel mode it is already under way).
    Resumed = resume(lists:reverse(SusPids), Parallel),
    Wd ! {resumed, SusPids},
    T8 = now_us(),
    {Unpurged, OldCode} = case erase(beam_live_purge) of
                              {pending, _} = PurgeTask -> await(PurgeTask);
                              _ -> soft_purge([maps:get(module, M) || M <- Mods])
                          end,
    T9 = now_us(),
    Missed = case MissedOrTask of
                 {pending, _} -> await(MissedOrTask);
                 L -> L
             end,
    report(Result, #{versions => Versions, reach => Reach, missed => Missed, killed => Killed,
                     dev_only => DevOnly,
                     suspended => Suspended, resumed => Resumed, unpurged => Unpurged,
                     old_code => OldCode, mode => Mode, parallel => Parallel, policy => Policy,
                     mods => Mods, t => [T0, T1, T2, T3, T7, T8, T9]}).

%% OldVsn from the loaded module, never from the disk (§1.1); NewVsn from the new binary.
versions(#{module := M} = Spec) ->
    New = maps:get(binary, Spec, undefined),
    #{module => M,
      instruction => maps:get(instruction, Spec),
      old_vsn_term => beam_live_agent:loaded_vsn_term(M),
      old_vsn => show_vsn(beam_live_agent:loaded_vsn_term(M)),
      new_vsn => case New of undefined -> undefined; _ -> show_vsn(binary_vsn(New)) end,
      old_md5 => beam_live_agent:hex(loaded_md5(M)),
      new_md5 => case New of undefined -> undefined; _ -> beam_live_agent:hex(binary_md5(New)) end}.

loaded_md5(M) ->
    case code:is_loaded(M) of
        false -> undefined;
        _ -> erlang:get_module_info(M, md5)
    end.

binary_vsn(Bin) ->
    case beam_lib:version(Bin) of
        {ok, {_, V}} -> beam_live_agent:unwrap_vsn(V);
        _ -> undefined
    end.

binary_md5(Bin) ->
    case beam_lib:md5(Bin) of
        {ok, {_, Md5}} -> Md5;
        _ -> undefined
    end.


show_vsn(undefined) -> undefined;
show_vsn(V) -> iolist_to_binary(io_lib:format("~p", [V])).

%% ---- discovery (§4) -------------------------------------------------------------------------

%% Reach: [{Pid, Module}] the suspends will reach, in module order. Missed: what a real release
%% would not reach, and why. In mode all, the missed special processes are reached as well.
discover(Mods, Mode) ->
    discover(Mods, Mode, false).

%% In parallel mode (not all) the scan for missed processes, which only the report needs,
%% runs beside the upgrade: Missed is then a task to await.
discover(Mods, Mode, Parallel) ->
    Changed = [maps:get(module, M) || M <- Mods],
    Suspends = [maps:get(module, M) || M <- Mods, suspends(M)],
    Procs = beam_live_agent:supervised_procs(),
    Supervised = maps:from_list([{P, Ms} || {P, Ms} <- Procs]),
    Reach0 = [{P, M} || M <- Suspends, {P, Ms} <- Procs, is_list(Ms), lists:member(M, Ms)],
    Scan = fun() -> missed(Changed, Suspends, Supervised, maps:from_list([{P, true} || {P, _} <- Reach0])) end,
    case Parallel andalso Mode =/= all of
        true ->
            Task = task(true, fun() -> [maps:without([pid_term, special], X) || X <- Scan()] end),
            {Reach0, Task, #{}};
        false -> discover_all(Scan(), Reach0, Suspends, Mode)
    end.

discover_all(Missed, Reach0, Suspends, Mode) ->
    Extra = case Mode of
                all -> [{P, M} || #{pid_term := P, module := M, special := true} <- Missed,
                                  lists:member(M, Suspends)];
                _ -> []
            end,
    {Reach0 ++ Extra, [maps:without([pid_term, special], X) || X <- Missed],
     maps:from_list([{P, true} || {P, _} <- Extra])}.

suspends(#{instruction := I}) -> I =:= update orelse I =:= supervisor.

missed(Changed, Suspends, Supervised, Reached) ->
    ChangedSet = maps:from_list([{M, true} || M <- Changed]),
    lists:filtermap(
        fun(P) ->
            case maps:is_key(P, Reached) of
                true -> false;
                false ->
                    case beam_live_agent:initial_module(P) of
                        {M, How} ->
                            case maps:is_key(M, ChangedSet) of
                                true -> {true, missed_entry(P, M, How, Supervised, Suspends)};
                                false -> false
                            end;
                        undefined -> false
                    end
            end
        end, processes()).

missed_entry(P, M, How, Supervised, Suspends) ->
    Why = case {How, maps:find(P, Supervised)} of
              {spawn, _} ->
                  <<"not a special process: code_change is never called; it keeps running old code until it makes a fully qualified call, and is killed by the next purge if it does not">>;
              {fun_server, _} ->
                  <<"runs a fun of this module inside a generic server (an Agent, say): this module's code_change is never called, and the stored fun is old code">>;
              {proc_lib, {ok, ChildSpecMods}} ->
                  case lists:member(M, Suspends) andalso not lists:member(M, ChildSpecMods) of
                      true ->
                          <<"started through a helper module: its child spec does not name this module, so a release does not suspend it; new code will run on old state">>;
                      false ->
                          <<"its module declares no behaviour, so it gets load_module: not suspended, no code_change; new code will run on old state">>
                  end;
              {proc_lib, error} ->
                  iolist_to_binary(["not in a supervision tree (started by ",
                                    case beam_live_agent:parent(P) of undefined -> <<"an unknown process">>; Parent -> Parent end,
                                    "): a release does not suspend it; new code will run on old state"])
          end,
    (proc_summary(P, M))#{why => Why, special => How =:= proc_lib, pid_term => P}.



proc_summary(P, M) ->
    #{pid => list_to_binary(pid_to_list(P)), name => beam_live_agent:reg(P), module => M}.

%% ---- purge, suspend, snapshot, load, code_change, resume ------------------------------------

%% load_binary purges the previous old code first, killing whoever still runs it. Doing that
%% purge here, before anyone is suspended, kills the same processes and keeps the suspended
%% window free of the process scan a purge costs.
pre_purge(Mods) ->
    lists:flatmap(
        fun(M) ->
            %% Usually nobody runs the old code: one soft purge (one scan) clears it.
            case erlang:check_old_code(M) andalso not code:soft_purge(M) of
                true ->
                    %% Named before the purge: afterwards they are gone, names and all.
                    Victims = [(proc_summary(P, M))#{reason => <<"ran old code purged by this load">>}
                               || P <- processes(), erlang:check_process_code(P, M) =:= true],
                    code:purge(M),
                    Victims;
                false -> []
            end
        end, Mods).

%% sys:suspend as OTP does it, one process after the other (in parallel mode, in windows),
%% with the rollback's snapshot of the state asked for in the same breath: the get_state system
%% message is queued right behind the suspend, so the process answers both in one round trip.
%% -> [{Pid, {ok, SuspendedAt} | {error, Why}, {state, S} | nostate}]
suspend(Pids, T, Parallel) ->
    [{P, R} || {P, R, _} <- suspend_and_snapshot(Pids, T, Parallel)].

suspend_and_snapshot(Pids, T, false) ->
    [suspend_one(P, T) || P <- Pids];
suspend_and_snapshot(Pids, T, true) ->
    At = now_us(),
    [case R of
         [ok, {error, _}] -> {P, {ok, At}, nostate};
         [ok, State] -> {P, {ok, At}, {state, State}};
         [ok] -> {P, {ok, At}, nostate};
         Why when is_atom(Why) ->
             Why =:= timeout andalso spawn(fun() -> catch sys:resume(P, 60000) end),
             {P, {error, Why}, nostate}
     end || {P, R} <- multi(Pids, [suspend, get_state], T)].

suspend_one(P, T) ->
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
                   after T -> nostate
                   end,
            erlang:demonitor(Mon, [flush]),
            {P, {ok, S}, Snap};
        {'DOWN', Mon, process, P, _} ->
            {P, {error, noproc}, nostate}
    after T ->
        erlang:demonitor(Mon, [flush]),
        %% The suspend request is still queued: have it undone once the process gets to it,
        %% without waiting here (OTP's own catch sys:resume).
        spawn(fun() -> catch sys:resume(P, 60000) end),
        {P, {error, timeout}, nostate}
    end.

%% A module whose code creates funs has generated functions named -Name/Arity-fun-N-.
creates_funs(M) ->
    case catch M:module_info(functions) of
        Fs when is_list(Fs) -> lists:any(fun({F, _}) -> hd(atom_to_list(F)) =:= $- end, Fs);
        _ -> false
    end.

load_all(Mods) ->
    [load(M) || M <- Mods].

load(#{module := M, instruction := delete_module}) ->
    S = now_us(),
    R = case code:delete(M) of true -> ok; false -> {error, not_loaded} end,
    #{module => M, result => R, us => now_us() - S};
load(#{module := M, binary := Bin, file := File}) ->
    S = now_us(),
    R = case code:load_binary(M, File, Bin) of
            {module, M} -> ok;
            {error, E} -> {error, E}
        end,
    #{module => M, result => R, us => now_us() - S}.

%% One code_change per suspended pid of each updated module, in module order; after the first
%% failure no further pid is changed (§5.14). In parallel mode one module's pids run together.
code_change(Mods, Versions, Reach, NotSuspended, T, Parallel) ->
    %% The few that did not suspend, rather than the many that did.
    Skip = maps:from_list([{P, true} || P <- NotSuspended]),
    lists:foldl(
        fun(#{module := M} = Spec, Acc) ->
            case suspends(Spec) of
                false -> Acc;
                true ->
                    #{old_vsn_term := OldVsn} = version_of(M, Versions),
                    Extra = maps:get(extra, Spec, []),
                    Pids = [P || {P, M2} <- Reach, M2 =:= M, not maps:is_key(P, Skip)],
                    case first_failure(Acc) of
                        none when Parallel ->
                            S = now_us(),
                            Acc ++ [case R of
                                        [ok] -> {P, M, ok, undefined, now_us() - S};
                                        [{error, E}] -> {P, M, error, E, now_us() - S};
                                        noproc -> {P, M, not_called, <<"exited while suspended">>, 0};
                                        Why -> {P, M, error, Why, now_us() - S}
                                    end || {P, R} <- multi(Pids, [{change_code, M, OldVsn, Extra}], T)];
                        none ->
                            Acc ++ [change_one(P, M, OldVsn, Extra, T) || P <- Pids];
                        _ ->
                            Acc ++ [{P, M, not_called, <<"an earlier code_change failed">>, 0} || P <- Pids]
                    end
            end
        end, [], Mods).

change_one(P, M, Vsn, Extra, T) ->
    S = now_us(),
    R = try sys:change_code(P, M, Vsn, Extra, T) of
            ok -> ok;
            {error, E} -> {error, E}
        catch
            exit:{timeout, _} -> {error, timeout};
            exit:{noproc, _} -> gone;
            C:E -> {error, {C, E}}
        end,
    case R of
        ok -> {P, M, ok, undefined, now_us() - S};
        %% It died while suspended: its supervisor restarts it on the new code. Not a failure.
        gone -> {P, M, not_called, <<"exited while suspended">>, now_us() - S};
        {error, Reason} -> {P, M, error, Reason, now_us() - S}
    end.

first_failure(Changes) ->
    case [C || {_, _, error, _, _} = C <- Changes] of
        [] -> none;
        [F | _] -> F
    end.

%% Only what did load is put back: a module whose load failed still runs its old code.
loaded_ok(M, Loads) ->
    lists:any(fun(#{module := LM, result := R}) -> LM =:= M andalso R =:= ok end, Loads).

%% Old binary back as current, each changed state back, from the snapshot.
roll_back(Mods, Snap, Changes) ->
    Loads = [restore_binary(M) || M <- lists:reverse(Mods)],
    %% Every process whose code_change ran, failed ones included: a code_change that timed
    %% out may still finish and set its state; the restore is queued right behind it.
    States = [{P, restore_state(P, Snap)} || {P, _, R, _, _} <- Changes, R =/= not_called],
    #{loads => Loads, states => States}.

restore_binary(#{module := M} = Spec) ->
    case maps:get(old_binary, Spec, undefined) of
        undefined ->
            #{module => M, result => {error, no_old_binary}};
        Old ->
            File = maps:get(old_file, Spec, maps:get(file, Spec)),
            case code:load_binary(M, File, Old) of
                {module, M} -> #{module => M, result => ok};
                {error, E} -> #{module => M, result => {error, E}}
            end
    end.

restore_state(P, Snap) ->
    case maps:find(P, Snap) of
        {ok, S} ->
            try sys:replace_state(P, fun(_) -> S end, 5000) of
                _ -> ok
            catch C:E -> {error, {C, E}}
            end;
        error -> {error, no_snapshot}
    end.

%% Release mode resumes in OTP's order, one sender, but does not wait for each reply before
%% sending the next resume: the processes wake in the same order, the waiting is per window.
%% (The suspends stay one at a time: that is what a release does.) Parallel mode spreads the
%% resumes over one sender per scheduler.
resume(Pids, Parallel) ->
    Replies = case Parallel of
                  true -> multi(Pids, [resume], 5000);
                  false -> lists:append([multi_batch(B, [resume], 5000) || B <- batches(Pids, ?WINDOW)])
              end,
    [{P, case R of [ok] -> ok; Why -> {error, Why} end, now_us()} || {P, R} <- Replies].

soft_purge(Mods) ->
    lists:foldl(
        fun(M, {Unpurged, Old}) ->
            case code:soft_purge(M) of
                true -> {Unpurged, Old};
                false ->
                    Users = [(proc_summary(P, M))#{reason => <<"still runs old code">>,
                                                   function => beam_live_agent:current(P)}
                             || P <- processes(), erlang:check_process_code(P, M) =:= true],
                    {[M | Unpurged], Old ++ Users}
            end
        end, {[], []}, Mods).

%% Work that may run beside the runner (parallel mode) or in it (release mode, OTP's order).
task(false, F) -> {done, F()};
task(true, F) ->
    Self = self(),
    Ref = make_ref(),
    spawn_link(fun() -> Self ! {Ref, F()} end),
    {pending, Ref}.

await({done, V}) -> V;
await({pending, Ref}) -> receive {Ref, V} -> V end.

%% Parallel mode, in the spirit of sys:multi_suspend: the same system messages sent to a
%% batch of ?WINDOW processes at once, then the replies gathered, batch after batch. One sender
%% and one receive per reply, instead of a round trip each: fewer context switches.
%% -> [{Pid, [Reply] | timeout | noproc}] in the order given.
multi(Pids, Reqs, T) ->
    %% One sender per scheduler, each batching its share: the senders' own work (a send and a
    %% receive per process) is spread over the cores too.
    N = erlang:system_info(schedulers_online),
    Shares = split(Pids, N),
    Self = self(),
    Refs = [begin
                R = make_ref(),
                spawn_link(fun() -> Self ! {R, lists:append([multi_batch(B, Reqs, T) || B <- batches(Share, ?WINDOW)])} end),
                R
            end || Share <- Shares],
    lists:append([receive {R, V} -> V end || R <- Refs]).

split(L, N) ->
    Size = max(1, (length(L) + N - 1) div N),
    batches(L, Size).

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
    Deadline = erlang:monotonic_time(millisecond) + T,
    %% The replies go to the sender's process dictionary (the sender is ours alone and lives
    %% for this call): no map to grow and search, one cheap write and one read per reply.
    gather(Ref, length(Pids) * length(Tagged), Deadline),
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
    after max(0, Deadline - erlang:monotonic_time(millisecond)) -> ok
    end.

%% Funs of a changed module held in a suspended process's state: after the purge they raise
%% badfun (the purge does not see funs, §17). Looked for in the snapshot, bounded.
stored_funs(Sample, Mods) ->
    Set = maps:from_list([{M, true} || M <- Mods]),
    lists:usort([proc_summary(P, M) || {P, S} <- Sample, M <- funs_in(S, Set, 10000)]).

%% A sample is enough to warn: the states of the first ?FUN_SAMPLE processes.
sample_states(Snap, Reach) ->
    [{P, S} || {P, _} <- lists:sublist(Reach, ?FUN_SAMPLE), {ok, S} <- [maps:find(P, Snap)]].

funs_in(T, Set, Budget) ->
    {Found, _} = funs_in(T, Set, Budget, []),
    lists:usort(Found).

funs_in(_, _, B, Acc) when B =< 0 -> {Acc, B};
funs_in(F, Set, B, Acc) when is_function(F) ->
    {module, M} = erlang:fun_info(F, module),
    {type, Type} = erlang:fun_info(F, type),
    case Type =:= local andalso maps:is_key(M, Set) of
        true -> {[M | Acc], B - 1};
        false -> {Acc, B - 1}
    end;
funs_in([H | T], Set, B, Acc) ->
    {A1, B1} = funs_in(H, Set, B - 1, Acc),
    funs_in(T, Set, B1, A1);
funs_in(T, Set, B, Acc) when is_tuple(T) ->
    funs_in(tuple_to_list(T), Set, B - 1, Acc);
funs_in(T, Set, B, Acc) when is_map(T) ->
    funs_in(maps:to_list(T), Set, B - 1, Acc);
funs_in(_, _, B, Acc) ->
    {Acc, B - 1}.

%% ---- report ---------------------------------------------------------------------------------

report(Result, #{versions := Versions, reach := Reach, missed := Missed, killed := Killed,
                 dev_only := DevOnly,
                 suspended := Suspended, resumed := Resumed, unpurged := Unpurged,
                 old_code := OldCode, mode := Mode, parallel := Parallel, policy := Policy,
                 mods := Mods, t := [T0, T1, T2, T3, T7, T8, T9]}) ->
    {Status, Info} = case Result of
                         {ok, I} -> {ok, I};
                         {failed, I} -> {failed, I};
                         {aborted, Why} -> {aborted, #{abort => Why}}
                     end,
    Changes = maps:get(changes, Info, []),
    SusAt = maps:from_list([{P, S} || {P, {ok, S}} <- Suspended]),
    ResAt = maps:from_list([{P, At} || {P, _, At} <- Resumed]),
    ChangeOf = maps:from_list([{P, {R, Why, Us}} || {P, _, R, Why, Us} <- Changes]),
    NotSus = maps:from_list([{P, E} || {P, {error, E}} <- Suspended]),
    Procs = [begin
                 {CC, Reason, CCUs} =
                     case maps:find(P, NotSus) of
                         {ok, E} -> {not_called, not_suspended_reason(E), 0};
                         error -> maps:get(P, ChangeOf, {not_called, not_called_reason(Status), 0})
                     end,
                 SusMs = case {maps:find(P, SusAt), maps:find(P, ResAt)} of
                             {{ok, S}, {ok, R}} -> (R - S) / 1000;
                             _ -> 0
                         end,
                 (proc_summary(P, M))#{code_change => CC, reason => show_reason(Reason),
                                       suspended_ms => SusMs, code_change_ms => CCUs / 1000,
                                       dev_only => maps:is_key(P, DevOnly)}
             end || {P, M} <- dedup_pairs(Reach)],
    [T4, T5, T6] = maps:get(t, Info, [T7, T7, T7]),
    Ok = Status =:= ok,
    Rep = #{ok => Ok,
            mode => Mode,
            parallel => Parallel,
            on_failure => Policy,
            rolled_back => maps:get(rolled_back, Info, Status =:= aborted),
            error => error_text(Status, Info),
            modules => [maps:remove(old_vsn_term, V) || V <- Versions],
            loads => [L#{result => show_reason(R)} || #{result := R} = L <- maps:get(loads, Info, [])],
            processes => Procs,
            missed => Missed,
            killed => Killed,
            old_code => OldCode,
            unpurged => Unpurged,
            stored_funs => maps:get(stored_funs, Info, []),
            timings => #{discover_ms => (T1 - T0) / 1000,
                         purge_ms => (T2 - T1) / 1000,
                         suspend_ms => (T3 - T2) / 1000,
                         snapshot_ms => (T4 - T3) / 1000,
                         load_ms => (T5 - T4) / 1000,
                         code_change_ms => (T6 - T5) / 1000,
                         resume_ms => (T8 - T7) / 1000,
                         soft_purge_ms => (T9 - T8) / 1000,
                         agent_ms => (T9 - T0) / 1000,
                         max_suspended_ms => lists:max([0 | [maps:get(suspended_ms, X) || X <- Procs]])}},
    case Status of
        ok -> remember(Mods, Versions, maps:get(snapshot, Info, #{}), Changes);
        _ -> ok
    end,
    Rep.

not_suspended_reason(timeout) -> <<"not suspended: busy past the suspend timeout; a release would go on without it, so it runs the new code on its old state">>;
not_suspended_reason(noproc) -> <<"not suspended: the process exited">>;
not_suspended_reason(E) -> iolist_to_binary(io_lib:format("not suspended: ~p", [E])).

not_called_reason(aborted) -> <<"upgrade aborted before code_change">>;
not_called_reason(_) -> <<"not reached">>.

error_text(ok, _) -> undefined;
error_text(aborted, #{abort := caller_down}) ->
    <<"the caller disappeared mid-upgrade; everything was put back and resumed">>;
error_text(aborted, #{abort := Why}) -> show_reason(Why);
error_text(failed, #{failure := {load, M, Reason}}) ->
    iolist_to_binary(io_lib:format("loading ~p failed: ~0tp (an on_load function that failed, or a NIF that did not load)", [M, Reason]));
error_text(failed, #{failure := {P, M, error, Reason, _}}) ->
    iolist_to_binary(io_lib:format("code_change of ~p failed in ~s: ~tp",
                                   [M, pid_to_list(P), Reason])).

show_reason(undefined) -> undefined;
show_reason(ok) -> ok;
show_reason(B) when is_binary(B) -> B;
show_reason(R) -> iolist_to_binary(io_lib:format("~0tp", [R])).

%% ---- the keeper: the last upgrade, for rollback ---------------------------------------------

remember(Mods, Versions, Snap, Changes) ->
    Changed = [{P, M} || {P, M, ok, _, _} <- Changes],
    Entry = #{modules => [maps:without([binary], S) || S <- Mods],
              versions => Versions,
              states => [{P, M, maps:get(P, Snap)} || {P, M} <- Changed, maps:is_key(P, Snap)],
              at => erlang:system_time(millisecond)},
    call_keeper(keeper(), {put, Entry}).

keeper() ->
    case whereis(?KEEPER) of
        undefined ->
            P = spawn(fun() -> keeper_loop(undefined) end),
            try register(?KEEPER, P) of
                true -> P
            catch error:badarg ->
                exit(P, kill),
                whereis(?KEEPER)
            end;
        P -> P
    end.

%% Fully qualified, so that a newer agent takes the keeper over instead of killing it.
keeper_loop(Last) ->
    receive
        {From, Ref, get} -> From ! {Ref, Last}, ?MODULE:keeper_loop(Last);
        {From, Ref, {put, New}} -> From ! {Ref, ok}, ?MODULE:keeper_loop(New);
        {From, Ref, clear} -> From ! {Ref, ok}, ?MODULE:keeper_loop(undefined)
    end.

call_keeper(K, Msg) ->
    Ref = make_ref(),
    K ! {self(), Ref, Msg},
    receive {Ref, R} -> R after 5000 -> undefined end.

%% ---- rollback of the last upgrade -----------------------------------------------------------

run_rollback(#{modules := Mods, versions := Versions, states := States}, Req, Wd) ->
    T0 = now_us(),
    ST = maps:get(suspend_timeout, Req, 5000),
    CT = maps:get(code_change_timeout, Req, 5000),
    Pids = [P || {P, _, _} <- States, is_process_alive(P)],
    Wd ! {suspending, Pids},
    Suspended = suspend(Pids, ST, false),
    SusPids = [P || {P, {ok, _}} <- Suspended],
    %% Dynamic modules: code_change {down, Vsn} before the old code is loaded (§2.6).
    Downs = [{P, down_one(P, M, S, Versions, CT)} || {P, M, S} <- States, lists:member(P, SusPids)],
    Loads = [restore_binary(S) || S <- lists:reverse(Mods)],
    Resumed = resume(lists:reverse(SusPids), false),
    Wd ! {resumed, SusPids},
    {Unpurged, OldCode} = soft_purge([maps:get(module, S) || S <- Mods]),
    call_keeper(keeper(), clear),
    Failed = [L || #{result := R} = L <- Loads, R =/= ok],
    #{ok => Failed =:= [],
      error => case Failed of [] -> undefined; _ -> show_reason(Failed) end,
      modules => [#{module => M, old_vsn => NewVsn, new_vsn => OldVsn}
                  || #{module := M, old_vsn := OldVsn, new_vsn := NewVsn} <- Versions],
      processes => [(proc_summary(P, M))#{how => How}
                    || {P, How} <- Downs, {P2, M, _} <- States, P2 =:= P],
      not_suspended => [list_to_binary(pid_to_list(P)) || {P, {error, _}} <- Suspended],
      resumed => length(Resumed),
      loads => [L#{result => show_reason(R)} || #{result := R} = L <- Loads],
      old_code => OldCode,
      unpurged => Unpurged,
      timings => #{total_ms => (now_us() - T0) / 1000}}.

%% The module's own code_change {down, OldVsn} when it transforms the state; otherwise (no
%% such clause, or a default that hands the state back unchanged) the state saved before.
down_one(P, M, Saved, Versions, T) ->
    #{old_vsn_term := OldVsn} = version_of(M, Versions),
    Before = (catch sys:get_state(P, T)),
    case catch sys:change_code(P, M, {down, OldVsn}, [], T) of
        ok ->
            case catch sys:get_state(P, T) of
                Before -> restore_state(P, #{P => Saved}), saved_state;
                _ -> code_change_down
            end;
        _ ->
            restore_state(P, #{P => Saved}),
            saved_state
    end.

%% ---- helpers --------------------------------------------------------------------------------

is_suspended(P) ->
    try sys:get_status(P, 1000) of
        {status, _, _, [_, suspended | _]} -> true;
        _ -> false
    catch _:_ -> false
    end.

dedup(L) -> dedup(L, #{}).
dedup([], _) -> [];
dedup([H | T], Seen) ->
    case maps:is_key(H, Seen) of
        true -> dedup(T, Seen);
        false -> [H | dedup(T, Seen#{H => true})]
    end.

dedup_pairs(L) -> dedup_pairs(L, #{}).
dedup_pairs([], _) -> [];
dedup_pairs([{P, _} = H | T], Seen) ->
    case maps:is_key(P, Seen) of
        true -> dedup_pairs(T, Seen);
        false -> [H | dedup_pairs(T, Seen#{P => true})]
    end.

version_of(M, Versions) ->
    hd([V || #{module := M2} = V <- Versions, M2 =:= M]).

now_us() -> erlang:monotonic_time(microsecond).
