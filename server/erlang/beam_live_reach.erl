%% Which processes an upgrade touches: those a suspend reaches (release_handler_1's
%% get_supervised_procs), those a release would miss, and those a load kills.
-module(beam_live_reach).
-export([reach/3, missed/3, missed/4, victims/1, victim/1, supervisor_kind/1, predicted_kills/1, old_code_pids/1, kills_of/1, kill/3, restarted/1, unpurged/1, soft_purge/1, summary/2, dedup/1]).

%% {Pid, Module} for every process whose child spec names one of Mods, in Mods' order, from
%% the supervision trees Procs; in mode all also the missed special processes of those modules.
-spec reach([module()], [{pid(), [module()] | dynamic}], [map()]) -> [{pid(), module()}].
reach(Mods, Procs, Extra) ->
    [{P, M} || M <- Mods, {P, Ms} <- Procs, is_list(Ms), lists:member(M, Ms)] ++
        [{P, M} || M <- Mods, #{pid_term := P, module := M2, special := true} <- Extra, M2 =:= M].

%% What a real release would not reach, and why: one scan of the node's processes.
%% -> [#{pid, name, module, why, special, pid_term}]
-spec missed([module()], [module()], [{pid(), term()}]) -> [map()].
missed(Changed, Suspends, Procs) ->
    ChangedSet = maps:from_list([{M, true} || M <- Changed]),
    Supervised = maps:from_list(Procs),
    Reached = maps:from_list([{P, true} || {P, _} <- reach(Suspends, Procs, [])]),
    %% The reached are skipped before anything is asked of them: on a node of 10,000 workers
    %% of the upgraded module, that is most of the scan.
    lists:filtermap(
        fun(P) ->
            case maps:is_key(P, Reached) of
                true -> false;
                false ->
                    case beam_live_agent:initial_module(P) of
                        {M, How} when is_map_key(M, ChangedSet) -> {true, missed_entry(P, M, How, Supervised, Suspends)};
                        _ -> false
                    end
            end
        end, processes()).

%% The same from a scan already made (beam_live_agent:module_processes/1).
-spec missed([module()], [module()], [{pid(), term()}], [{pid(), module(), atom()}]) -> [map()].
missed(_Changed, Suspends, Procs, Scan) ->
    Supervised = maps:from_list(Procs),
    Reached = maps:from_list([{P, true} || {P, _} <- reach(Suspends, Procs, [])]),
    [missed_entry(P, M, How, Supervised, Suspends) || {P, M, How} <- Scan, not maps:is_key(P, Reached)].

missed_entry(P, M, How, Supervised, Suspends) ->
    RunsOld = erlang:check_old_code(M) andalso erlang:check_process_code(P, M),
    Why = case {How, maps:find(P, Supervised)} of
              _ when RunsOld ->
                  iolist_to_binary(["it still runs the old code of this module: this load kills it (",
                                    restart_text(element(3, victim(P))), ")"]);
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
    (summary(P, M))#{why => Why, special => How =:= proc_lib, pid_term => P}.

%% The processes the load of M will kill: code_server purges the old code first, and kills
%% whoever still runs it. A soft purge that succeeds kills nobody and leaves nothing to purge,
%% so the scan of the node runs only when someone does run old code.
%% -> [{Pid, Supervisor | undefined, Restart}]
-spec victims(module()) -> [{pid(), pid() | undefined, atom()}].
victims(M) ->
    case unpurged([M]) of
        [M] -> [victim(P) || P <- processes(), erlang:check_process_code(P, M) =:= true];
        [] -> []
    end.

%% Soft-purges the old code of Mods that nobody runs; -> the modules whose old code stays.
-spec unpurged([module()]) -> [module()].
unpurged(Mods) -> [M || M <- Mods, erlang:check_old_code(M), not code:soft_purge(M)].

%% The same, changing nothing: for the plan.
-spec predicted_kills([module()]) -> [map()].
predicted_kills(Mods) -> kills_of(old_code_pids(Mods)).

-spec kills_of([{pid(), module()}]) -> [map()].
kills_of(OldCode) ->
    [(summary(P, M))#{restart => R, supervisor => pid_or_undefined(Sup)} || {P, M} <- OldCode, {_, Sup, R} <- [victim(P)]].

%% Who runs the old code of Mods, in one pass over the processes (none when no module has old
%% code: the usual case, right after a purge).
-spec old_code_pids([module()]) -> [{pid(), module()}].
old_code_pids(Mods) ->
    case [M || M <- Mods, erlang:check_old_code(M)] of
        [] -> [];
        Old -> [{P, M} || P <- processes(), M <- Old, erlang:check_process_code(P, M) =:= true]
    end.

restart_text(permanent) -> <<"permanent: its supervisor restarts it">>;
restart_text(transient) -> <<"transient: its supervisor restarts it">>;
restart_text(temporary) -> <<"temporary: not restarted">>;
restart_text(none) -> <<"no supervisor: not restarted">>;
restart_text(_) -> <<"restart unknown">>.

%% {Pid, Supervisor | undefined, Restart}: who restarts P if it dies, and whether.
-spec victim(pid()) -> {pid(), pid() | undefined, atom()}.
victim(P) ->
    case parent_supervisor(P) of
        undefined -> {P, undefined, none};
        {Kind, Sup} -> {P, Sup, restart_type(Kind, Sup, P)}
    end.

%% The supervisor that started P, if its parent is one ('$ancestors' as proc_lib records it).
parent_supervisor(P) ->
    Parent = case beam_live_agent:parent_of(P) of
                 A when is_pid(A) -> A;
                 A when is_atom(A), A =/= undefined -> whereis(A);
                 _ -> undefined
             end,
    case is_pid(Parent) andalso supervisor_kind(Parent) of
        false -> undefined;
        none -> undefined;
        Kind -> {Kind, Parent}
    end.

%% Only a process whose '$initial_call' says supervisor is asked (sys:get_status): asking a
%% worker would cost it a system message for nothing.
-spec supervisor_kind(pid()) -> supervisor | dynamic | none.
supervisor_kind(Sup) ->
    case erlang:process_info(Sup, dictionary) of
        {dictionary, D} ->
            case proplists:get_value('$initial_call', D) of
                {supervisor, _, _} -> element(1, beam_live_agent:supervisor_info(Sup));
                {'Elixir.DynamicSupervisor', _, _} -> dynamic;
                _ -> none
            end;
        _ -> none
    end.

restart_type(supervisor, Sup, P) ->
    %% get_childspec takes the child's id (its pid only under simple_one_for_one).
    Ids = case catch supervisor:which_children(Sup) of
              L when is_list(L) -> [Id || {Id, C, _, _} <- L, C =:= P];
              _ -> []
          end,
    case catch supervisor:get_childspec(Sup, hd(Ids ++ [P])) of
        {ok, #{restart := R}} -> R;
        _ -> unknown
    end;
restart_type(dynamic, Sup, P) ->
    case catch sys:get_state(Sup, 2000) of
        #{children := Children} ->
            case maps:find(P, Children) of
                {ok, T} when is_tuple(T), tuple_size(T) >= 2 -> element(2, T);
                _ -> unknown
            end;
        _ -> unknown
    end.

%% Kills, now, whoever runs the old code of M (the purge load_binary would do), named first:
%% afterwards they are gone, names and all.
-spec kill(module(), [{pid(), pid() | undefined, atom()}], binary()) -> [map()].
kill(M, Victims, Reason) ->
    Named = [(summary(P, M))#{reason => Reason, restart => R, supervisor => pid_or_undefined(Sup),
                              pid_term => P, sup_term => Sup}
             || {P, Sup, R} <- Victims],
    code:purge(M),
    Named.

%% The soft purge after everyone is resumed, as the release handler does it; who still runs
%% old code is named. -> {Unpurged, [#{pid, name, module, reason, function}]}
-spec soft_purge([module()]) -> {[module()], [map()]}.
soft_purge(Mods) ->
    Unpurged = unpurged(Mods),
    {Unpurged, [(summary(P, M))#{reason => <<"still runs old code">>,
                                 function => beam_live_agent:current(P),
                                 restart => element(3, victim(P))}
                || {P, M} <- old_code_pids(Unpurged)]}.

%% After the supervisor was resumed: the child that replaced a killed one, if any. A
%% which_children call queues behind the exits the supervisor still has to handle, so its
%% answer already has the restarts in it.
-spec restarted({pid(), pid() | undefined, atom(), [pid()]}) -> pid() | undefined.
restarted({_P, undefined, _, _}) -> undefined;
restarted({_P, _Sup, temporary, _}) -> undefined;
restarted({_P, Sup, _, Before}) ->
    case catch supervisor:which_children(Sup) of
        L when is_list(L) ->
            case [C || {_, C, _, _} <- L, is_pid(C), not lists:member(C, Before)] of
                [New | _] -> New;
                [] -> undefined
            end;
        _ -> undefined
    end.

-spec summary(pid(), module()) -> map().
summary(P, M) ->
    Name = beam_live_agent:reg(P),
    #{pid => list_to_binary(pid_to_list(P)), name => Name, via => beam_live_agent:via_of(Name, P), module => M}.

pid_or_undefined(P) when is_pid(P) -> list_to_binary(pid_to_list(P));
pid_or_undefined(_) -> undefined.

-spec dedup(list()) -> list().
dedup(L) -> dedup(L, #{}).
dedup([], _) -> [];
dedup([H | T], Seen) ->
    case maps:is_key(H, Seen) of
        true -> dedup(T, Seen);
        false -> [H | dedup(T, Seen#{H => true})]
    end.
