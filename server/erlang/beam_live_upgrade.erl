%% The upgrade, run on the target node itself: the blocks of systools_rc's expansion, each
%% suspend -> load -> code_change -> resume, one after the other as release_handler_1 evaluates
%% a relup (docs/otp-rules.md), made transactional.
%%
%% - The script's blocks come with the request: a module with no DepMods is a block of its own,
%%   so a code_change may call a process of a module upgraded in an earlier block.
%% - Every step is written to a journal (an ETS table owned by the watchdog) before it is taken.
%%   On a failure the runner undoes what the journal lists, in reverse block order; if the
%%   runner dies or overruns, the watchdog undoes the same from the same journal.
%% - The first failing process stops the upgrade (release_handler_1: code_change_failed). All
%%   suspends of one block share the suspend timeout and all its code_changes the code_change
%%   timeout, so the whole path, failure and undo included, is bounded by the number of blocks.
%% - A load that kills processes still in old code first suspends their supervisors: the
%%   children are restarted after the load, on the new code.
-module(beam_live_upgrade).
-export([upgrade/1, plan/1, rollback/1, last/0, suspended/1]).
-include("beam_live.hrl").

-record(spec, {module :: module(),
               instruction :: update | supervisor | load_module | add_module | delete_module,
               binary :: binary() | undefined,
               file :: string() | undefined,
               %% The binary the node ran before, to load back on undo.
               old_binary :: binary() | undefined,
               old_file :: string() | undefined,
               extra = [] :: term()}).

-record(opts, {mode = release :: release | all,
               policy = rollback :: rollback | resume,
               parallel = false :: boolean(),
               %% Shared by all suspends of one block.
               suspend_timeout = 5000 :: non_neg_integer(),
               %% Shared by all code_changes of one block.
               code_change_timeout = 5000 :: non_neg_integer(),
               hooks = #{} :: map(),
               journal :: ets:tid(),
               %% What mode all adds to the supervised processes.
               extra = [] :: [map()],
               %% Each module's vsn before the upgrade: code_change's OldVsn.
               old_vsns = #{} :: #{module() => term()}}).

%% One block as it ran.
-record(block, {index :: pos_integer(),
                specs :: [#spec{}],
                reach = [] :: [{pid(), module()}],
                suspended = [] :: [#suspension{}],
                victims = [] :: [map()],
                loads = [] :: [map()],
                changes = [] :: [#change{}],
                %% Parallel mode's soft purge of the block's modules, started after its load.
                purge :: pos_integer() | undefined,
                t = #{} :: map()}).

-define(FUN_SAMPLE, 1000).

%% ---- entry points ---------------------------------------------------------------------------

%% Req: #{modules => [#{module, instruction, binary, file, old_binary, old_file, extra}],
%%        blocks => [[module()]], mode, on_failure, parallel, suspend_timeout,
%%        code_change_timeout, deadline, caller, hooks}
-spec upgrade(map()) -> map().
upgrade(Req) ->
    beam_live_purge:idle(),
    Specs = specs(Req),
    supervise_run(fun(Wd, Tab) -> run(Req, Specs, Tab, Wd) end, Req, Specs).

%% The processes each suspend would reach, those a release would miss and those the load
%% would kill; changes nothing.
-spec plan(map()) -> map().
plan(Req) ->
    beam_live_purge:idle(),
    Specs = specs(Req),
    Mods = [S#spec.module || S <- Specs],
    ModSet = maps:from_list([{M, true} || M <- Mods]),
    Suspends = [S#spec.module || S <- Specs, suspends(S)],
    Procs = beam_live_agent:supervised_procs(),
    %% One scan of the node's processes serves what a release would miss, the pitfall facts,
    %% and, kept on the node, this plan's upgrade and the checks after it.
    Scan = beam_live_agent:module_processes(maps:merge(maps:from_list([{M, true} || M <- maps:get(project_modules, Req, [])]), ModSet)),
    Planned = [X || {_, M, _} = X <- Scan, is_map_key(M, ModSet)],
    Missed = beam_live_reach:missed(Mods, Suspends, Procs, Planned),
    Extra = case maps:get(mode, Req, release) of all -> Missed; _ -> [] end,
    DevOnly = maps:from_list([{P, true} || #{pid_term := P, special := true} <- Extra]),
    Users = [(summary(P, M))#{callback => callback(P)}
             || {P, Ms} <- Procs, is_list(Ms), M <- Mods, lists:member(M, Ms)],
    %% Who runs old code: one pass serves the kills and the old-code users. An upgrade's plan
    %% first soft-purges the old code nobody runs (purge => true), as
    %% release_handler:check_install_release/2 does with [purge]: the load would purge it
    %% anyway, and the upgrade then has no purge to wait for before its suspends.
    OldCode = beam_live_reach:old_code_pids(case maps:get(purge, Req, false) of
                                                true -> beam_live_reach:unpurged(Mods);
                                                false -> Mods
                                            end),
    #{reach => [(summary(P, M))#{dev_only => maps:is_key(P, DevOnly)}
                || {P, M} <- dedup_pairs(beam_live_reach:reach(Suspends, Procs, Extra))],
      missed => [strip(X) || X <- Missed],
      users => Users,
      kills => beam_live_reach:kills_of(OldCode),
      facts => beam_live_agent:pitfall_facts(#{modules => Mods, scan => Planned, supervised => Procs}),
      old_code => beam_live_agent:old_code_users_of(OldCode),
      versions => [maps:remove(old_vsn_term, versions(S)) || S <- Specs],
      invalid => case maps:get(validate, Req, false) of true -> invalid(Specs); false -> [] end,
      scan => beam_live_keeper:stash(Scan)}.

%% A cluster's prepare phase: erlang:prepare_loading/2 on each new binary, never followed by
%% finish_loading, so nothing is installed; what this node's loader would refuse (a corrupt
%% binary, a sticky module, a beam of another OTP). A module with an on_load function cannot be
%% prepared this way, and is loaded by code:load_binary in the upgrade: not a refusal.
invalid(Specs) ->
    [#{module => M, reason => iolist_to_binary(io_lib:format("~0tp", [R]))}
     || #spec{module = M, binary = Bin} <- Specs, is_binary(Bin),
        {error, R} <- [erlang:prepare_loading(M, Bin)], R =/= on_load_not_allowed].

%% Undoes the last successful upgrade as a downgrade (beam_live_keeper).
-spec rollback(map()) -> map().
rollback(Req) ->
    beam_live_purge:idle(),
    case last() of
        undefined -> #{ok => false, error => no_upgrade_to_roll_back};
        Last -> supervise_run(fun(_Wd, Tab) -> beam_live_keeper:downgrade(Last, Req, Tab) end, Req, [])
    end.

-spec last() -> map() | undefined.
last() -> beam_live_keeper:last().

%% The pids among Pids that are suspended right now (for tests and the fault suite).
-spec suspended([pid()]) -> [pid()].
suspended(Pids) ->
    [P || P <- Pids, beam_live_sys:is_suspended(P)].

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

spec_map(#spec{module = M, instruction = I, file = F, old_binary = Old, old_file = OldF, extra = E}) ->
    #{module => M, instruction => I, file => F, old_binary => Old, old_file => OldF, extra => E}.

specs(Req) ->
    [#spec{module = M, instruction = I,
           binary = maps:get(binary, S, undefined), file = maps:get(file, S, undefined),
           old_binary = maps:get(old_binary, S, undefined), old_file = maps:get(old_file, S, undefined),
           extra = maps:get(extra, S, [])}
     || #{module := M, instruction := I} = S <- maps:get(modules, Req)].

%% ---- runner and watchdog --------------------------------------------------------------------

supervise_run(Fun, Req, Specs) ->
    Self = self(),
    Ref = make_ref(),
    Wd = spawn(fun() -> watchdog_init(Self, Ref, maps:get(caller, Req, undefined), maps:get(deadline, Req), Specs, Req) end),
    Tab = receive {Ref, journal, T} -> T end,
    %% A runner that crashes is left to die: the watchdog undoes what the journal lists.
    Runner = spawn(fun() ->
                       catch register(beam_live_runner, self()),
                       Self ! {Ref, Fun(Wd, Tab)}
                   end),
    Wd ! {runner, Runner},
    MRef = monitor(process, Runner),
    receive
        {Ref, Result} ->
            demonitor(MRef, [flush]),
            %% A success leaves its journal (the snapshots) to the keeper, for a later rollback.
            Wd ! {done, maps:get(ok, Result, false) =:= true andalso Specs =/= []},
            Result;
        {'DOWN', MRef, process, Runner, _} ->
            %% The watchdog undoes from the journal what the runner left, and says what.
            receive {Ref, undone, Report} -> Report end
    end.

watchdog_init(Parent, Ref, Caller, Deadline, Specs, Req) ->
    Tab = ets:new(beam_live_journal, [public, set]),
    Parent ! {Ref, journal, Tab},
    receive {runner, Runner} -> ok end,
    MR = monitor(process, Runner),
    case Caller of
        P when is_pid(P) -> monitor(process, P);
        _ -> ok
    end,
    End = erlang:monotonic_time(millisecond) + Deadline,
    watchdog(#{parent => Parent, ref => Ref, runner => Runner, mr => MR, end_at => End,
               tab => Tab, specs => Specs, req => Req}).

watchdog(#{runner := Runner, mr := MR, end_at := End} = S) ->
    Left = max(0, End - erlang:monotonic_time(millisecond)),
    receive
        {done, Keep} ->
            done(Keep, S);
        {'DOWN', MR, process, Runner, normal} ->
            %% It sent its report before it ended; supervise_run says done.
            receive {done, Keep} -> done(Keep, S) after 5000 -> ok end;
        {'DOWN', MR, process, Runner, Why} ->
            take_over(Why, S);
        {'DOWN', _, process, _Caller, _} ->
            %% The bridge is gone: nobody will read the report. Undo rather than leave half an
            %% upgrade nobody asked to keep.
            Runner ! caller_down,
            watchdog(S)
    after Left ->
        exit(Runner, kill),
        receive {'DOWN', MR, process, Runner, _} -> ok end,
        take_over(deadline, S)
    end.

done(true, #{tab := Tab}) -> beam_live_keeper:keep_journal(Tab);
done(false, _) -> ok.

take_over(Why, #{parent := Parent, ref := Ref, tab := Tab, specs := Specs, req := Req}) ->
    Found = journal_blocks(Tab),
    Undone = undo(Tab, Specs, opts(Req, Tab), #{}),
    Pushed = pushed(Found),
    Parent ! {Ref, undone,
              #{ok => false,
                pushed => Pushed,
                rolled_back => Pushed,
                runner_died => show(Why),
                found => [#{block => I, phase => Phase, modules => Mods} || {I, Phase, Mods, _} <- Found],
                undo => show_undo(Undone),
                error => iolist_to_binary(
                           io_lib:format("the upgrade runner ~s ~s; the watchdog ~s",
                                         [case Why of deadline -> "overran its deadline and was stopped"; _ -> ["died (", show(Why), ")"] end,
                                          where(Found),
                                          case Pushed of
                                              true -> "loaded the old code back, put the saved states back and resumed everyone";
                                              false -> "resumed everyone: nothing had been loaded"
                                          end]))}}.

where([]) -> "before suspending anyone";
where(Found) ->
    {I, Phase, _, _} = lists:last(Found),
    io_lib:format("in block ~b (~s)", [I, Phase]).

%% Between steps the runner looks for an abort from its watchdog.
check_abort() ->
    receive caller_down -> throw({abort, caller_down})
    after 0 -> ok
    end.

pause(Hook, #opts{hooks = Hooks}) ->
    case maps:get(Hook, Hooks, 0) of
        0 -> ok;
        Ms ->
            receive caller_down -> throw({abort, caller_down})
            after Ms -> ok
            end
    end.

%% ---- the journal ----------------------------------------------------------------------------

%% {{block, I}, Phase, Modules, Pids}: suspending -> suspended -> loaded -> done.
journal(Tab, I, Phase, Mods, Pids) ->
    ets:insert(Tab, {{block, I}, Phase, Mods, Pids}).

journal_blocks(Tab) ->
    lists:sort([{I, Phase, Mods, Pids} || {{block, I}, Phase, Mods, Pids} <- ets:tab2list(Tab)]).

%% ---- the upgrade ----------------------------------------------------------------------------

opts(Req, Tab) ->
    #opts{mode = maps:get(mode, Req, release),
          policy = maps:get(on_failure, Req, rollback),
          parallel = maps:get(parallel, Req, false),
          suspend_timeout = maps:get(suspend_timeout, Req),
          code_change_timeout = maps:get(code_change_timeout, Req),
          hooks = maps:get(hooks, Req, #{}),
          journal = Tab}.

run(Req, Specs, Tab, _Wd) ->
    T0 = now_us(),
    O0 = opts(Req, Tab),
    Versions = [versions(S) || S <- Specs],
    Mods = [S#spec.module || S <- Specs],
    Suspends = [S#spec.module || S <- Specs, suspends(S)],
    %% Nothing changes before the first block; the scan for missed processes is the report's.
    Procs = beam_live_agent:supervised_procs(),
    %% Parallel mode scans for the missed processes beside the upgrade: only the report needs
    %% them (mode all needs them first).
    MissedTask = task(O0#opts.parallel andalso O0#opts.mode =/= all, fun() -> missed(Req, Mods, Suspends, Procs) end),
    O1 = O0#opts{old_vsns = maps:from_list([{M, V} || #{module := M, old_vsn_term := V} <- Versions])},
    O = case O1#opts.mode of all -> O1#opts{extra = await(MissedTask)}; _ -> O1 end,
    T1 = now_us(),
    Blocks = blocks(Req, Specs),
    {Status, Done, Failure} =
        try run_blocks(Blocks, 1, Procs, O, []) of
            {ok, Ran} -> {ok, Ran, none};
            {failed, Ran, F} -> {failed, Ran, F}
        catch
            throw:{abort, Why, Ran} -> {aborted, Ran, {abort, Why}}
        end,
    Pushed = pushed(journal_blocks(Tab)),
    Undo = case {Status, O#opts.policy} of
               {ok, _} -> undefined;
               {failed, resume} -> undefined;
               {failed, rollback} -> undo(Tab, Specs, O, late(Failure));
               {aborted, _} -> undo(Tab, Specs, O, #{})
           end,
    %% The soft purge of what this upgrade made old follows the reply (beam_live_purge).
    Purges = purges(Done, Mods),
    Missed = await(MissedTask),
    T3 = now_us(),
    Reach = lists:append([B#block.reach || B <- Done]),
    Funs = stored_funs(sample_states(Tab, Reach), [M || M <- Mods, creates_funs(M)]),
    Rep = report(#{status => Status, blocks => Done, failure => Failure, undo => Undo, pushed => Pushed,
                   versions => Versions, missed => Missed, opts => O, purges => Purges,
                   stored_funs => Funs, t => [T0, T1, T3]}),
    case Status of
        ok ->
            beam_live_keeper:remember(
              [maps:remove(binary, spec_map(S)) || S <- Specs],
              [[S#spec.module || S <- B#block.specs] || B <- Done], Versions,
              Tab, [{P, M, Same} || B <- Done, #change{pid = P, module = M, result = ok, same = Same} <- B#block.changes]);
        _ -> ok
    end,
    Rep.

%% The plan's scan when the request names one, else a scan of its own.
missed(Req, Mods, Suspends, Procs) ->
    case beam_live_keeper:scan(maps:get(scan, Req, undefined), maps:from_list([{M, true} || M <- Mods])) of
        undefined -> beam_live_reach:missed(Mods, Suspends, Procs);
        Scan -> beam_live_reach:missed(Mods, Suspends, Procs, Scan)
    end.

%% The blocks of the script, as the caller expanded it; without one, a block per module.
blocks(Req, Specs) ->
    ByMod = maps:from_list([{S#spec.module, S} || S <- Specs]),
    case maps:get(blocks, Req, undefined) of
        undefined -> [[S] || S <- Specs];
        Blocks -> [[maps:get(M, ByMod) || M <- B] || B <- Blocks]
    end.

run_blocks([], _I, _Procs, _O, Ran) ->
    {ok, lists:reverse(Ran)};
run_blocks([Specs | Rest], I, Procs0, O, Ran) ->
    %% release_handler_1 finds the processes anew at every suspend: a restart in an earlier
    %% block is seen.
    Procs = case I of 1 -> Procs0; _ -> beam_live_agent:supervised_procs() end,
    try run_block(I, Specs, Procs, O) of
        {ok, B} -> run_blocks(Rest, I + 1, Procs, O, [B | Ran]);
        {failed, B, F} -> {failed, lists:reverse([B | Ran]), F}
    catch
        throw:{abort, Why} -> throw({abort, Why, lists:reverse(Ran)})
    end.

%% suspend -> load -> code_change -> resume, for one block (dependency order inside it).
run_block(I, Specs, Procs, #opts{journal = Tab, parallel = Par} = O) ->
    TS = now_us(),
    Mods = [S#spec.module || S <- Specs],
    Suspends = [S#spec.module || S <- Specs, suspends(S)],
    %% One suspending module reaches each pid once; several may share pids.
    Reach = case {Suspends, O#opts.extra} of
                {[_], []} -> beam_live_reach:reach(Suspends, Procs, []);
                _ -> dedup_pairs(beam_live_reach:reach(Suspends, Procs, O#opts.extra))
            end,
    %% Who the load will kill (nobody, usually: a soft purge clears unused old code). Their
    %% supervisors are suspended with the block, so that they restart them after the load.
    Victims = [{M, V} || M <- Mods, V <- beam_live_reach:victims(M)],
    Sups = [Sup || {_, {_, Sup, R}} <- Victims, is_pid(Sup), R =/= temporary],
    Order = case Sups of
                [] -> [P || {P, _} <- Reach];
                _ -> beam_live_reach:dedup([P || {P, _} <- Reach] ++ Sups)
            end,
    Before = maps:from_list([{Sup, children(Sup)} || Sup <- lists:usort(Sups)]),
    journal(Tab, I, suspending, Mods, Order),
    TD = now_us(),
    Suspended = beam_live_sys:suspend(Order, O#opts.suspend_timeout, Par),
    SusPids = [P || #suspension{pid = P, result = {ok, _}} <- Suspended],
    %% The journal is the one place the snapshots live: the undo reads them there, and after a
    %% success the table goes to the keeper for a later rollback, with no copy.
    ets:insert(Tab, [{{snap, P}, S} || #suspension{pid = P, result = {ok, _}, snapshot = {state, S}} <- Suspended]),
    journal(Tab, I, suspended, Mods, SusPids),
    TSus = now_us(),
    B0 = #block{index = I, specs = Specs, reach = Reach, suspended = [S#suspension{snapshot = nostate} || S <- Suspended]},
    try
        pause(pause_after_suspend, O),
        check_abort()
    catch throw:Abort ->
        resume_block(SusPids, Par),
        ets:delete(Tab, {block, I}),
        throw(Abort)
    end,
    %% Past this point the journal says "loaded": an undo puts the old code back.
    journal(Tab, I, loaded, Mods, SusPids),
    Killed = [beam_live_reach:kill(M, V, <<"ran old code purged by this load">>) || M <- lists:usort([M || {M, _} <- Victims]),
                            V <- [[X || {M2, X} <- Victims, M2 =:= M]]],
    Loads = [load(S) || S <- lists:reverse(Specs)],
    %% Parallel mode purges beside the block's code_changes: the suspended processes run sys's
    %% code, not the old code. Release mode purges after the last resume, as OTP's order has it.
    Purge = case Par of true -> beam_live_purge:start(Mods); false -> undefined end,
    TL = now_us(),
    pause(pause_after_load, O),
    Skip = maps:from_list([{P, true} || #suspension{pid = P, result = {error, _}} <- Suspended]),
    Changes = case [L || #{result := {error, _}} = L <- Loads] of
                  [] -> code_changes(Specs, Reach, Skip, O);
                  _ -> []
              end,
    TC = now_us(),
    Failure = case {[L || #{result := {error, _}} = L <- Loads], first_failure(Changes)} of
                  {[#{module := LM, result := {error, LE}} | _], _} -> {load, LM, LE};
                  {[], F} -> F
              end,
    ets:insert(Tab, {{changed, I}, [P || #change{pid = P, result = R} <- Changes, R =/= not_called]}),
    B1 = B0#block{victims = lists:append(Killed), loads = Loads, changes = Changes, purge = Purge},
    case {Failure, O#opts.policy} of
        {none, _} ->
            Resumed = resume_block(SusPids, Par),
            journal(Tab, I, done, Mods, SusPids),
            TR = now_us(),
            {ok, B1#block{victims = restarted(B1#block.victims, Before),
                          t = #{discover => TD - TS, suspend => TSus - TD, load => TL - TSus,
                                code_change => TC - TL, resume => TR - TC, resumed => Resumed}}};
        {_, resume} ->
            %% The new code stays: resume as is, and run no later block.
            resume_block(SusPids, Par),
            journal(Tab, I, done, Mods, SusPids),
            {failed, B1#block{t = #{discover => TD - TS, suspend => TSus - TD, load => TL - TSus,
                                     code_change => TC - TL, resume => now_us() - TC}}, Failure};
        {_, rollback} ->
            %% Left suspended for the undo, which puts states and code back first.
            {failed, B1#block{t = #{discover => TD - TS, suspend => TSus - TD, load => TL - TSus,
                                     code_change => TC - TL, resume => 0}}, Failure}
    end.

children(Sup) ->
    case catch supervisor:which_children(Sup) of
        L when is_list(L) -> [C || {_, C, _, _} <- L, is_pid(C)];
        _ -> []
    end.

restarted(Killed, Before) ->
    [begin
         New = beam_live_reach:restarted({P, Sup, R, maps:get(Sup, Before, [])}),
         maps:without([pid_term, sup_term], K#{restarted => pid_or_undefined(New)})
     end || #{pid_term := P, sup_term := Sup, restart := R} = K <- Killed].

resume_block(Pids, Par) ->
    beam_live_sys:resume(lists:reverse(Pids), Par).

%% One code_change per suspended pid of each updated module of the block, in dependency order;
%% the block's code_changes share the code_change timeout, and release mode stops at the first
%% failing pid (release_handler_1). -> [{Pid, Module, Changed}]
code_changes(Specs, Reach, Skip, #opts{code_change_timeout = CT, parallel = Par, journal = Tab} = O) ->
    Deadline = now_ms() + CT,
    Before = fun(P) -> snapshot(Tab, P) end,
    %% Each module's results, newest first; after a failure the rest are not called.
    {Chunks, _} = lists:foldl(
        fun(#spec{module = M, extra = Extra} = S, {Acc, Failed}) ->
            Pids = [P || suspends(S), {P, M2} <- Reach, M2 =:= M, not maps:is_key(P, Skip)],
            case Failed of
                false ->
                    OldVsn = maps:get(M, O#opts.old_vsns, undefined),
                    Budget = {max(0, Deadline - now_ms()), Par},
                    Chunk = change_code(Pids, M, OldVsn, Extra, Budget, Before, lists:append(Acc) =:= [], O),
                    {[Chunk | Acc], first_failure(Chunk) =/= none};
                true ->
                    {[[#change{pid = P, module = M, result = not_called} || P <- Pids] | Acc], true}
            end
        end, {[], false}, Specs),
    lists:append(lists:reverse(Chunks)).

%% The fault suite's hook: a pause after the block's first code_change.
change_code([First | Rest], M, Vsn, Extra, {Budget, Par}, Before, true, #opts{hooks = #{pause_mid_code_change := Ms}} = O) when Ms > 0, Rest =/= [] ->
    Start = now_ms(),
    [R1] = beam_live_sys:change_code([First], M, Vsn, Extra, {Budget, Par}, Before),
    case R1 of
        #change{result = ok} ->
            pause(pause_mid_code_change, O),
            [R1 | beam_live_sys:change_code(Rest, M, Vsn, Extra, {max(0, Budget - (now_ms() - Start) + Ms), Par}, Before)];
        _ -> [R1 | [#change{pid = P, module = M, result = not_called} || P <- Rest]]
    end;
change_code(Pids, M, Vsn, Extra, Budget, Before, _First, _O) ->
    beam_live_sys:change_code(Pids, M, Vsn, Extra, Budget, Before).

first_failure(Changes) ->
    case [{P, M, R} || #change{pid = P, module = M, result = {error, _} = R} <- Changes] of
        [] -> none;
        [F | _] -> F
    end.

%% The pids whose code_change timed out: still running it, they get their restore queued.
late({P, _M, {error, timeout}}) -> #{P => true};
late(_) -> #{}.

%% ---- undo: the journal, in reverse block order ----------------------------------------------

%% Blocks still suspended get their states and code back and are resumed; blocks already
%% done are suspended again first. Shared by the runner (a failure, an abort) and the watchdog.
undo(Tab, Specs, #opts{} = O, Late) ->
    ByMod = maps:from_list([{S#spec.module, S} || S <- Specs]),
    Blocks = lists:reverse(journal_blocks(Tab)),
    Results = [undo_block(I, Phase, [maps:get(M, ByMod) || M <- Mods, maps:is_key(M, ByMod)], Pids, Tab, O, Late)
               || {I, Phase, Mods, Pids} <- Blocks],
    ets:delete_all_objects(Tab),
    #{loads => lists:append([L || #{loads := L} <- Results]),
      states => lists:sum([N || #{states := N} <- Results]),
      resumed => lists:sum([N || #{resumed := N} <- Results]),
      blocks => length(Results)}.

undo_block(_I, Phase, _Specs, Pids, _Tab, O, _Late) when Phase =:= suspending; Phase =:= suspended ->
    %% Nothing of this block was loaded: resuming leaves it as it was. (A suspend still in
    %% flight is answered with an error by a running process, so resuming all is safe.)
    #{loads => [], states => 0, resumed => length(resume_block(Pids, O#opts.parallel))};
undo_block(I, Phase, Specs, Pids, Tab, #opts{suspend_timeout = ST, code_change_timeout = CT, parallel = Par}, Late) ->
    Suspended = case Phase of
                    loaded -> Pids;
                    done -> [P || #suspension{pid = P, result = {ok, _}} <- beam_live_sys:suspend([P || P <- Pids, is_process_alive(P)], ST, Par)]
                end,
    Changed = case ets:lookup(Tab, {changed, I}) of
                  [{_, Cs}] -> Cs;
                  [] -> Suspended
              end,
    States = [case ets:lookup(Tab, {snap, P}) of
                  [{_, S}] when is_map_key(P, Late) -> beam_live_sys:replace_state_async(P, S);
                  [{_, S}] -> beam_live_sys:replace_state(P, S, CT);
                  [] -> {error, no_snapshot}
              end || P <- Changed],
    Loads = [beam_live_keeper:restore_binary(M, Instr, Old, case OldFile of undefined -> File; _ -> OldFile end)
             || #spec{module = M, instruction = Instr, old_binary = Old, old_file = OldFile, file = File} <- Specs],
    Resumed = resume_block(Suspended, Par),
    #{loads => Loads, states => length([ok || ok <- States]), resumed => length(Resumed)}.

%% ---- versions -------------------------------------------------------------------------------

%% OldVsn from the loaded module, never from the disk (docs/otp-rules.md); NewVsn from the
%% new binary.
versions(#spec{module = M, instruction = I, binary = New}) ->
    Old = beam_live_agent:loaded_vsn_term(M),
    #{module => M,
      instruction => I,
      old_vsn_term => Old,
      old_vsn => show_vsn(Old),
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

suspends(#spec{instruction = I}) -> I =:= update orelse I =:= supervisor.

%% ---- load and purge -------------------------------------------------------------------------

load(#spec{module = M, instruction = delete_module}) ->
    S = now_us(),
    R = case code:delete(M) of true -> ok; false -> {error, not_loaded} end,
    #{module => M, result => R, us => now_us() - S};
load(#spec{module = M, binary = Bin, file = File}) ->
    S = now_us(),
    R = case code:load_binary(M, File, Bin) of
            {module, M} -> ok;
            {error, E} -> {error, E}
        end,
    #{module => M, result => R, us => now_us() - S}.

%% The soft purges that follow the reply: the ones parallel mode started with each block, and
%% one of every module no block purged yet. -> [Id]
purges(Done, Mods) ->
    Started = [B#block.purge || B <- Done, B#block.purge =/= undefined],
    Purged = lists:append([[S#spec.module || S <- B#block.specs] || B <- Done, B#block.purge =/= undefined]),
    Started ++ case Mods -- Purged of [] -> []; Rest -> [beam_live_purge:start(Rest)] end.

%% Work that may run beside the runner (parallel mode) or in it (release mode, OTP's order).
task(false, F) -> {done, F()};
task(true, F) ->
    Self = self(),
    Ref = make_ref(),
    spawn_link(fun() -> Self ! {Ref, F()} end),
    {pending, Ref}.

await({done, V}) -> V;
await({pending, Ref}) -> receive {Ref, V} -> V end.

%% ---- stored funs ----------------------------------------------------------------------------

%% A module whose code creates funs has generated functions named -Name/Arity-fun-N-.
creates_funs(M) ->
    case catch M:module_info(functions) of
        Fs when is_list(Fs) -> lists:any(fun({F, _}) -> hd(atom_to_list(F)) =:= $- end, Fs);
        _ -> false
    end.

%% Funs of a changed module held in a suspended process's state: after the purge they raise
%% badfun (the purge does not see funs). Looked for in a sample of the snapshot, bounded.
stored_funs(_Sample, []) -> [];
stored_funs(Sample, Mods) ->
    Set = maps:from_list([{M, true} || M <- Mods]),
    lists:usort([summary(P, M) || {P, S} <- Sample, M <- funs_in(S, Set, 10000)]).

sample_states(Tab, Reach) ->
    [{P, S} || {P, _} <- lists:sublist(Reach, ?FUN_SAMPLE), {ok, S} <- [snapshot(Tab, P)]].

snapshot(Tab, P) ->
    case ets:lookup(Tab, {snap, P}) of
        [{_, S}] -> {ok, S};
        [] -> error
    end.

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

report(#{status := Status, blocks := Blocks, failure := Failure, undo := Undo, pushed := Pushed, versions := Versions,
         missed := Missed, opts := #opts{mode = Mode, parallel = Par, policy = Policy, extra = Extra},
         purges := Purges, stored_funs := Funs, t := [T0, T1, T3]}) ->
    DevOnly = maps:from_list([{P, true} || #{pid_term := P, special := true} <- Extra]),
    Procs = lists:append([block_processes(B, Status, DevOnly) || B <- Blocks]),
    Sum = fun(K) -> lists:sum([maps:get(K, B#block.t, 0) || B <- Blocks]) / 1000 end,
    #{ok => Status =:= ok,
      pushed => Pushed,
      mode => Mode,
      parallel => Par,
      on_failure => Policy,
      rolled_back => Undo =/= undefined andalso Pushed,
      error => error_text(Status, Failure, Undo),
      error_detail => error_detail(Failure),
      error_frames => error_frames(Failure),
      error_process => error_process(Failure),
      modules => [maps:remove(old_vsn_term, V) || V <- Versions],
      blocks => [[S#spec.module || S <- B#block.specs] || B <- Blocks],
      loads => [L#{result => show_reason(R)} || B <- Blocks, #{result := R} = L <- B#block.loads],
      processes => Procs,
      missed => [strip(X) || X <- Missed],
      killed => [maps:without([pid_term, sup_term], K) || B <- Blocks, K <- B#block.victims],
      %% Maps, not bare integers: a list of small integers travels as a string.
      purges => [#{id => Id} || Id <- Purges],
      stored_funs => Funs,
      undo => show_undo(Undo),
      timings => #{discover_ms => (T1 - T0) / 1000 + Sum(discover),
                   purge_ms => 0,
                   suspend_ms => Sum(suspend),
                   snapshot_ms => 0,
                   load_ms => Sum(load),
                   code_change_ms => Sum(code_change),
                   resume_ms => Sum(resume),
                   soft_purge_ms => 0,
                   agent_ms => (T3 - T0) / 1000,
                   %% When it started, on this node's monotonic clock (beam_live_purge's ended_us).
                   started_us => T0,
                   max_suspended_ms => lists:max([0 | [maps:get(suspended_ms, X) || X <- Procs]])}}.

block_processes(#block{reach = Reach, suspended = Suspended, changes = Changes, t = T}, Status, DevOnly) ->
    SusAt = maps:from_list([{P, S} || #suspension{pid = P, result = {ok, S}} <- Suspended]),
    ResAt = maps:from_list([{P, At} || {P, _, At} <- maps:get(resumed, T, [])]),
    ChangeOf = maps:from_list([{P, C} || #change{pid = P} = C <- Changes]),
    NotSus = maps:from_list([{P, E} || #suspension{pid = P, result = {error, E}} <- Suspended]),
    [begin
         {CC, Reason, CCUs} =
             case {maps:find(P, NotSus), maps:find(P, ChangeOf)} of
                 {{ok, E}, _} -> {not_called, not_suspended_reason(E), 0};
                 {_, {ok, #change{result = ok, us = Us}}} -> {ok, undefined, Us};
                 {_, {ok, #change{result = gone, us = Us}}} -> {not_called, <<"exited while suspended">>, Us};
                 {_, {ok, #change{result = not_called}}} -> {not_called, <<"an earlier code_change failed">>, 0};
                 {_, {ok, #change{result = {error, Why}, us = Us}}} -> {error, element(1, beam_live_agent:explain(Why)), Us};
                 {_, error} -> {not_called, not_called_reason(Status), 0}
             end,
         SusMs = case {maps:find(P, SusAt), maps:find(P, ResAt)} of
                     {{ok, S}, {ok, R}} -> (R - S) / 1000;
                     _ -> 0
                 end,
         (summary(P, M))#{code_change => CC, reason => show_reason(Reason),
                          suspended_ms => SusMs, code_change_ms => CCUs / 1000,
                          dev_only => maps:is_key(P, DevOnly)}
     end || {P, M} <- Reach].

not_suspended_reason(timeout) -> <<"not suspended: busy past the suspend timeout; a release would go on without it, so it runs the new code on its old state">>;
not_suspended_reason(budget) -> <<"not suspended: the block's suspend timeout was spent on busier processes; it runs the new code on its old state">>;
not_suspended_reason(noproc) -> <<"not suspended: the process exited">>;
not_suspended_reason(E) -> iolist_to_binary(io_lib:format("not suspended: ~p", [E])).

not_called_reason(aborted) -> <<"upgrade aborted before code_change">>;
not_called_reason(_) -> <<"not reached">>.

error_text(ok, _, _) -> undefined;
error_text(aborted, {abort, caller_down}, _) ->
    <<"the caller disappeared mid-upgrade; everything was put back and resumed">>;
error_text(aborted, {abort, Why}, _) -> show_reason(Why);
error_text(failed, {load, M, Reason}, _) ->
    iolist_to_binary(io_lib:format("loading ~p failed: ~0tp (an on_load function that failed, or a NIF that did not load)", [M, Reason]));
error_text(failed, {P, M, {error, timeout}}, _) ->
    iolist_to_binary(io_lib:format("code_change of ~s in ~s did not finish within the block's code_change timeout",
                                   [beam_live_agent:module_text(M), pid_to_list(P)]));
error_text(failed, {P, M, {error, Reason}}, _) ->
    iolist_to_binary(io_lib:format("code_change of ~s failed in ~s: ~ts",
                                   [beam_live_agent:module_text(M), pid_to_list(P), element(1, beam_live_agent:explain(Reason))])).

%% The first failure once, in full (the stacktrace, as the language prints it).
error_detail({_P, _M, {error, Reason}}) -> element(2, beam_live_agent:explain(Reason));
error_detail(_) -> undefined.

%% Where it failed: the stacktrace's frames with their file (as the compiler recorded it, often
%% relative to the app) and line, for the editor to put the error where it happened. The loaded
%% module's source would not do: after the undo the node runs a kept binary, compiled elsewhere
%% perhaps.
error_frames({_P, _M, {error, {'EXIT', {_Reason, Stack}}}}) when is_list(Stack) ->
    [#{module => M, file => unicode:characters_to_binary(F), line => L}
     || {M, _F, _A, Info} <- lists:sublist(Stack, 12), is_list(Info),
        {line, L} <- [lists:keyfind(line, 1, Info)], {file, F} <- [lists:keyfind(file, 1, Info)]];
error_frames(_) -> [].

error_process({P, M, _}) when is_pid(P) -> summary(P, M);
error_process(_) -> undefined.

show_undo(undefined) -> undefined;
show_undo(#{loads := Loads} = U) -> U#{loads := [L#{result => show_reason(R)} || #{result := R} = L <- Loads]}.

%% Past the suspends of a block, the journal says loaded: the node's code was changed.
pushed(Found) ->
    lists:any(fun({_, Phase, _, _}) -> Phase =:= loaded orelse Phase =:= done end, Found).

show(T) -> iolist_to_binary(io_lib:format("~0tp", [T])).

show_reason(undefined) -> undefined;
show_reason(ok) -> ok;
show_reason(B) when is_binary(B) -> B;
show_reason(R) -> show(R).

strip(X) -> maps:without([pid_term, special], X).

summary(P, M) -> beam_live_reach:summary(P, M).

pid_or_undefined(P) when is_pid(P) -> list_to_binary(pid_to_list(P));
pid_or_undefined(_) -> undefined.

dedup_pairs(L) -> dedup_pairs(L, #{}).
dedup_pairs([], _) -> [];
dedup_pairs([{P, _} = H | T], Seen) ->
    case maps:is_key(P, Seen) of
        true -> dedup_pairs(T, Seen);
        false -> [H | dedup_pairs(T, Seen#{P => true})]
    end.

now_us() -> erlang:monotonic_time(microsecond).
now_ms() -> erlang:monotonic_time(millisecond).
