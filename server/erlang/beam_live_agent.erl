%% The agent: loaded into the target node by the bridge, it does the work where the data lives
%% and sends back only results. OTP only, so it serves Elixir and Erlang projects alike.
%%
%% Everything it returns is made of maps, atoms, binaries and integers: pids travel as their
%% text (<0.123.0>), vsns as Erlang's ~p of the unwrapped vsn.
-module(beam_live_agent).
-export([status/0, processes/1, supervised_procs/0, module_infos/1, build_facts/1, loaded_under/1, app_modules/1, state_shapes/1, module_processes/1, hex/1]).
-export([explain/1, module_text/1, supervisor_pids/0]).
-export([initial_module/1, parent/1, parent_of/1, via/1, via_of/2, supervisor_module/1, supervisor_info/1, unwrap_vsn/1, loaded_vsn_term/1, reg/1, state/1, page/1, old_code_users/1, old_code_users_of/1, pitfall_facts/1, pitfall_stamp/1, current/1]).

%% ---- status ---------------------------------------------------------------------------------

-spec status() -> map().
status() ->
    #{node => node(),
      otp_release => list_to_binary(erlang:system_info(otp_release)),
      applications => [#{name => App, description => bin(Desc), vsn => bin(Vsn)}
                       || {App, Desc, Vsn} <- application:which_applications()],
      process_count => erlang:system_info(process_count),
      elixir => code:is_loaded('Elixir.Kernel') =/= false}.

%% ---- supervision trees ----------------------------------------------------------------------

%% Each running application's tree, walked as release_handler_1:get_supervised_procs/0 does
%% (application master -> top supervisor -> which_children, recursively), and the processes of
%% the project's applications that no tree reaches.
-spec processes(map()) -> map().
processes(Opts) ->
    Limit = maps:get(limit, Opts, infinity),
    Running = [A || {A, _, _} <- application:which_applications()],
    %% Asking for some applications shows only their trees.
    Apps = case maps:get(apps, Opts, auto) of
               auto -> Running;
               Wanted -> [A || A <- Running, lists:member(A, Wanted)]
           end,
    {Trees, Budget} = lists:foldl(
        fun(App, {Acc, B}) ->
            {Tree, B1} = app_tree(App, B),
            {[Tree | Acc], B1}
        end, {[], Limit}, Apps),
    Supervised = supervised_pids(),
    ProjectApps = project_apps(maps:get(apps, Opts, auto)),
    ProjectMods = project_modules(ProjectApps),
    Unsupervised = unsupervised(Supervised, ProjectMods),
    {Shown, Truncated} = take(Unsupervised, Budget),
    #{node => node(),
      applications => lists:reverse(Trees),
      project_applications => ProjectApps,
      unsupervised => Shown,
      truncated => Truncated orelse Budget =:= 0}.

app_tree(App, Budget) ->
    Vsn = case application:get_key(App, vsn) of {ok, V} -> bin(V); _ -> undefined end,
    Base = #{application => App, vsn => Vsn},
    case app_root(App) of
        undefined ->
            {Base#{supervisor => undefined}, Budget};
        Root ->
            Mod = case catch supervisor:get_callback_module(Root) of
                      M when is_atom(M) -> M;
                      _ -> undefined
                  end,
            {Node, B1} = node_of(Root, undefined, supervisor, [Mod], Mod, Budget),
            {Base#{supervisor => Node}, B1}
    end.

node_of(_Pid, _Id, _Type, _Mods, _Mod, 0) ->
    {undefined, 0};
node_of(Pid, Id, Type, Mods, Mod0, Budget) ->
    Mod = case Mod0 of undefined -> callback_module(Pid); _ -> Mod0 end,
    Info = proc(Pid, Mod),
    Node0 = Info#{id => Id, type => Type, modules => mods(Mods)},
    case Type of
        supervisor when is_pid(Pid) ->
            {Children, B1} = children(which_children(Pid), spend(Budget)),
            {Node0#{children => Children}, B1};
        _ ->
            {Node0#{children => []}, spend(Budget)}
    end.

spend(infinity) -> infinity;
spend(N) -> N - 1.

children(Specs, Budget) ->
    {Rev, B} = lists:foldl(
        fun(_, {Acc, 0}) ->
                {Acc, 0};
           ({Id, Child, Type, Mods}, {Acc, B}) when is_pid(Child) ->
                Mod = case Type of
                          supervisor -> supervisor_module(Child);
                          _ -> undefined
                      end,
                {Node, B1} = node_of(Child, show(Id), Type, Mods, Mod, B),
                {[Node | Acc], B1};
           ({Id, Status, Type, Mods}, {Acc, B}) ->
                %% restarting | undefined: release_handler skips these, we show them.
                {[#{pid => undefined, name => undefined, id => show(Id), type => Type,
                    modules => mods(Mods), module => undefined, vsn => undefined,
                    status => Status, children => []} | Acc], spend(B)}
        end, {[], Budget}, Specs),
    {lists:reverse(Rev), B}.

mods(dynamic) -> dynamic;
mods(L) when is_list(L) -> L;
mods(_) -> [].

which_children(Pid) ->
    try supervisor:which_children(Pid) of
        L when is_list(L) -> L
    catch
        _:_ -> []
    end.

%% A supervisor's callback module; Elixir's Supervisor.start_link/2 and
%% DynamicSupervisor.start_link/1 run a default callback, shown as what the user started.
-spec supervisor_module(pid()) -> module() | undefined.
supervisor_module(Pid) ->
    case supervisor_info(Pid) of
        {dynamic, 'Elixir.Supervisor.Default'} -> 'Elixir.DynamicSupervisor';
        {_, 'Elixir.Supervisor.Default'} -> 'Elixir.Supervisor';
        {_, undefined} -> callback_module(Pid);
        {_, M} -> M
    end.

%% {supervisor | dynamic | none, CallbackModule}, from one sys:get_status (what
%% supervisor:get_callback_module/1 reads too). A DynamicSupervisor poses as an OTP supervisor
%% ('$initial_call' {supervisor, Mod, 1}); its state, a %DynamicSupervisor{}, tells it apart.
-spec supervisor_info(pid()) -> {supervisor | dynamic | none, module() | undefined}.
supervisor_info(Pid) ->
    case catch sys:get_status(Pid, 2000) of
        {status, _, _, [_PDict, _SysState, _Parent, _Dbg, Misc]} when is_list(Misc) ->
            Mod = case lists:keyfind(supervisor, 1, Misc) of
                      {supervisor, [{"Callback", M} | _]} -> M;
                      _ -> undefined
                  end,
            Kind = case [S || {data, [{"State", S}]} <- Misc] of
                       [#{'__struct__' := 'Elixir.DynamicSupervisor'} | _] -> dynamic;
                       [S | _] when is_tuple(S), element(1, S) =:= state, Mod =/= undefined -> supervisor;
                       _ -> none
                   end,
            {Kind, Mod};
        _ -> {none, undefined}
    end.

%% The pids the release handler would consider, with the modules their child specs name
%% (release_handler_1:get_supervised_procs/0).
-spec supervised_procs() -> [{pid(), [module()] | dynamic}].
supervised_procs() ->
    fold_trees(fun({_Id, Pid, _Type, Mods}, Acc) -> [{Pid, mods(Mods)} | Acc] end,
               fun(Root, Acc) -> [{Root, [supervisor_module(Root)]} | Acc] end).

%% Every supervisor in the running applications' trees, roots included.
-spec supervisor_pids() -> [pid()].
supervisor_pids() ->
    fold_trees(fun({_Id, Pid, supervisor, _}, Acc) -> [Pid | Acc];
                  (_, Acc) -> Acc
               end,
               fun(Root, Acc) -> [Root | Acc] end).

%% The one walk of the supervision trees: Root(RootPid, Acc) for each running application's top
%% supervisor, then Child(ChildSpec, Acc) for every running child below it, depth first.
fold_trees(Child, Root) ->
    lists:foldl(fun({App, _, _}, Acc) ->
                        case app_root(App) of
                            undefined -> Acc;
                            R -> fold_tree(Child, Root(R, Acc), R)
                        end
                end, [], application:which_applications()).

fold_tree(Fun, Acc0, Sup) ->
    lists:foldl(fun({_Id, Pid, supervisor, _} = C, Acc) when is_pid(Pid) -> fold_tree(Fun, Fun(C, Acc), Pid);
                   ({_Id, Pid, _, _} = C, Acc) when is_pid(Pid) -> Fun(C, Acc);
                   (_, Acc) -> Acc
                end, Acc0, which_children(Sup)).

%% An application's top supervisor (application_master:get_child/1), or undefined.
app_root(App) ->
    case application_controller:get_master(App) of
        Master when is_pid(Master) ->
            case catch application_master:get_child(Master) of
                {Root, _} when is_pid(Root) -> Root;
                _ -> undefined
            end;
        _ -> undefined
    end.

supervised_pids() ->
    maps:from_list([{P, true} || {P, _} <- supervised_procs()]).

%% ---- processes outside the trees ------------------------------------------------------------

project_apps(auto) ->
    Root = code:root_dir(),
    Core = [elixir, logger, iex, mix, eex, ex_unit, hex, compiler, stdlib, kernel],
    [A || {A, _, _} <- application:loaded_applications(),
          not lists:member(A, Core),
          not under(code:lib_dir(A), Root)];
project_apps(Apps) when is_list(Apps) ->
    Apps.

under(Dir, Root) when is_list(Dir) -> lists:prefix(Root, Dir);
under(_, _) -> true.

project_modules(Apps) ->
    maps:from_list([{M, App} || App <- Apps,
                                {ok, Ms} <- [application:get_key(App, modules)],
                                M <- Ms]).

%% A supervisor started outside the trees (a pool started from the shell) is listed with its
%% kind, so that its children show under it rather than beside it.
unsupervised(Supervised, ProjectMods) ->
    Found = lists:filtermap(
        fun(P) ->
            case maps:is_key(P, Supervised) of
                true -> false;
                false ->
                    case initial_module(P) of
                        {M, How} ->
                            case maps:find(M, ProjectMods) of
                                {ok, App} ->
                                    Sup = beam_live_reach:supervisor_kind(P) =/= none,
                                    Info = proc(P, case Sup of true -> supervisor_module(P); false -> M end),
                                    {true, {P, Info#{application => App,
                                                     started_by => How,
                                                     parent => parent(P),
                                                     type => case Sup of true -> supervisor; false -> worker end}}};
                                error -> false
                            end;
                        undefined -> false
                    end
            end
        end, processes()),
    Sups = maps:from_list([{P, true} || {P, #{type := supervisor}} <- Found]),
    [I || {P, I} <- Found, not maps:is_key(parent_pid(P), Sups)].

parent_pid(P) ->
    case parent_of(P) of
        A when is_pid(A) -> A;
        A when is_atom(A), A =/= undefined -> whereis(A);
        _ -> undefined
    end.

%% {Module, Kind}: proc_lib (a special process whose callback is Module), fun_server (a
%% special process running a fun of Module, as an Agent or a Task records itself), or spawn.
-spec initial_module(pid()) -> {module(), spawn | proc_lib | fun_server} | undefined.
initial_module(P) ->
    case erlang:process_info(P, initial_call) of
        {initial_call, {proc_lib, init_p, _}} ->
            case proc_lib:translate_initial_call(P) of
                {supervisor, M, _} -> {M, proc_lib};
                {M, init, _} when M =/= proc_lib -> {M, proc_lib};
                {M, F, _} when M =/= proc_lib ->
                    case atom_to_list(F) of
                        "-" ++ _ -> {M, fun_server};
                        _ -> {M, proc_lib}
                    end;
                _ -> undefined
            end;
        {initial_call, {erlang, apply, 2}} ->
            %% spawn(fun ...): the initial call names no module; what it runs now does.
            current_module(P);
        {initial_call, {M, _, _}} -> {M, spawn};
        _ -> undefined
    end.

current_module(P) ->
    case erlang:process_info(P, current_function) of
        {current_function, {M, _, _}} when M =/= erlang -> {M, spawn};
        _ -> undefined
    end.

-spec parent(pid()) -> binary() | undefined.
parent(P) ->
    case parent_of(P) of
        A when is_atom(A), A =/= undefined -> atom_to_binary(A, utf8);
        A when is_pid(A) -> pid_bin(A);
        _ -> undefined
    end.

%% The process that started P, as proc_lib records it ('$ancestors'): a pid or a registered
%% name; undefined for a plain spawn.
-spec parent_of(pid()) -> pid() | undefined.
parent_of(P) ->
    case erlang:process_info(P, dictionary) of
        {dictionary, D} ->
            case proplists:get_value('$ancestors', D) of
                [A | _] -> A;
                _ -> undefined
            end;
        _ -> undefined
    end.

callback_module(P) ->
    case initial_module(P) of
        {M, _} -> M;
        undefined -> undefined
    end.

%% ---- one process ----------------------------------------------------------------------------

proc(Pid, Mod) ->
    case erlang:process_info(Pid, [registered_name, status, message_queue_len]) of
        undefined ->
            #{pid => pid_bin(Pid), name => undefined, module => Mod, vsn => loaded_vsn(Mod),
              status => dead, message_queue_len => 0};
        Info ->
            Name = case proplists:get_value(registered_name, Info) of
                       [] -> undefined;
                       N -> N
                   end,
            #{pid => pid_bin(Pid), name => Name, via => via_of(Name, Pid), module => Mod, vsn => loaded_vsn(Mod),
              status => proplists:get_value(status, Info),
              message_queue_len => proplists:get_value(message_queue_len, Info)}
    end.

%% ---- the Live view, one page at a time -----------------------------------------------------

%% What one expanded tree row needs, collected, sorted and cut to one page here on the node:
%% #{kind => applications} | #{kind => children, supervisor => Pid, offset, limit}
%% | #{kind => unsupervised, offset, limit, apps}.
-spec page(map()) -> map().
page(#{kind := applications}) ->
    Items = [begin
                 Root = app_root(App),
                 #{application => App, vsn => bin(Vsn), description => bin(Desc),
                   supervisor => case Root of undefined -> undefined; _ -> pid_bin(Root) end,
                   supervisor_name => case Root of undefined -> undefined; _ -> reg(Root) end,
                   module => case Root of undefined -> undefined; _ -> supervisor_module(Root) end}
             end || {App, Desc, Vsn} <- application:which_applications()],
    #{items => Items, total => length(Items), offset => 0};
page(#{kind := children, supervisor := Sup} = Opts) ->
    Pid = resolve(Sup),
    Children = case Pid of undefined -> []; _ -> which_children(Pid) end,
    {Total, Slice} = slice(Children, Opts),
    Items = [child_item(C) || C <- Slice],
    #{items => Items, total => Total, offset => maps:get(offset, Opts, 0)};
page(#{kind := unsupervised} = Opts) ->
    ProjectMods = project_modules(project_apps(maps:get(apps, Opts, auto))),
    All = unsupervised(supervised_pids(), ProjectMods),
    {Total, Slice} = slice(All, Opts),
    #{items => Slice, total => Total, offset => maps:get(offset, Opts, 0)}.

child_count(Sup) ->
    case catch supervisor:count_children(Sup) of
        L when is_list(L) -> proplists:get_value(active, L, 0);
        _ -> 0
    end.

child_item({Id, Child, Type, Mods}) when is_pid(Child) ->
    Mod = case Type of
              supervisor -> supervisor_module(Child);
              _ -> callback_module(Child)
          end,
    Item = (proc(Child, Mod))#{id => show(Id), type => Type, modules => mods(Mods)},
    case Type of
        %% So that an empty supervisor is not drawn as expandable.
        supervisor -> Item#{children => child_count(Child)};
        _ -> Item
    end;
child_item({Id, Status, Type, Mods}) ->
    #{pid => undefined, name => undefined, id => show(Id), type => Type, modules => mods(Mods),
      module => undefined, vsn => undefined, status => Status, message_queue_len => 0}.

%% Sorted by registered name, then pid, so that pages are stable between refreshes.
slice(L, Opts) ->
    Offset = maps:get(offset, Opts, 0),
    Limit = maps:get(limit, Opts, 200),
    Total = length(L),
    Sorted = case Total > 0 andalso is_tuple(hd(L)) of
                 true -> L;   % which_children: keep the supervisor's own order
                 false -> lists:sort(fun sort_key/2, L)
             end,
    {Total, lists:sublist(Sorted, Offset + 1, Limit)}.

sort_key(#{name := N1, pid := P1}, #{name := N2, pid := P2}) -> {N1 =:= undefined, N1, P1} =< {N2 =:= undefined, N2, P2};
sort_key(A, B) -> A =< B.

%% ---- one process's state --------------------------------------------------------------------

%% sys:get_state with a short timeout, printed here on the node (Elixir's inspect when asked and
%% loaded, ~tp otherwise) and cut to MaxBytes before it travels.
-spec state(map()) -> map().
state(#{process := Who} = Opts) ->
    Timeout = maps:get(timeout, Opts, 2000),
    MaxBytes = maps:get(max_bytes, Opts, 65536),
    Syntax = maps:get(syntax, Opts, erlang),
    case resolve(Who) of
        undefined ->
            #{ok => false, error => iolist_to_binary(
                                      ["no such process: nothing on ", atom_to_list(node()), " is registered as ", bin(Who),
                                       " and it is no live pid. beam-live processes lists the names and pids"])};
        Pid ->
            try sys:get_state(Pid, Timeout) of
                S ->
                    Text = pretty(S, Syntax, MaxBytes),
                    Size = byte_size(Text),
                    Cut = Size > MaxBytes,
                    #{ok => true, pid => pid_bin(Pid), name => reg(Pid),
                      syntax => case Syntax =:= elixir andalso has_elixir() of true -> elixir; false -> erlang end,
                      text => case Cut of true -> binary:part(Text, 0, MaxBytes); false -> Text end,
                      truncated => Cut, bytes => Size}
            catch
                exit:{timeout, _} -> #{ok => false, error => <<"the process did not answer sys:get_state in time (busy, or not a special process)">>};
                exit:{noproc, _} -> #{ok => false, error => <<"the process exited">>};
                _:R -> #{ok => false, error => iolist_to_binary(io_lib:format("not a special process, or sys:get_state failed: ~0tP", [R, 8]))}
            end
    end.

resolve(P) when is_pid(P) -> P;
resolve(B) when is_binary(B) ->
    case B of
        <<"<", _/binary>> -> try list_to_pid(binary_to_list(B)) catch _:_ -> undefined end;
        %% As IEx does: KV.Registry is the alias of Elixir.KV.Registry; a leading : names an
        %% Erlang atom.
        <<":", Name/binary>> -> whereis_name(Name);
        _ ->
            case whereis_name(B) of
                undefined -> whereis_name(<<"Elixir.", B/binary>>);
                P -> P
            end
    end;
resolve(A) when is_atom(A) -> whereis(A).

whereis_name(B) ->
    try whereis(binary_to_existing_atom(B, utf8)) catch _:_ -> undefined end.

-spec reg(pid()) -> atom() | undefined.
reg(P) ->
    case erlang:process_info(P, registered_name) of
        {registered_name, N} -> N;
        _ -> undefined
    end.

%% The name a process got through Elixir's Registry ({via, Registry, {Reg, Key}}), read by pid:
%% #{registry, key} with the key as Elixir inspects it, or undefined. The node's registries
%% are looked up once per calling process.
-spec via(pid()) -> map() | undefined.
via(P) ->
    Regs = case get(beam_live_registries) of
               undefined ->
                   R = [N || N <- registered(), is_registry(N)],
                   put(beam_live_registries, R),
                   R;
               R -> R
           end,
    via(P, Regs).

via(_P, []) -> undefined;
via(P, [R | Rs]) ->
    case catch 'Elixir.Registry':keys(R, P) of
        [K | _] -> #{registry => R, key => iolist_to_binary('Elixir.Kernel':inspect(K))};
        _ -> via(P, Rs)
    end.

is_registry(N) ->
    case whereis(N) of
        P when is_pid(P) ->
            case erlang:process_info(P, dictionary) of
                {dictionary, D} -> proplists:get_value('$initial_call', D) =:= {supervisor, 'Elixir.Registry.Supervisor', 1};
                _ -> false
            end;
        _ -> false
    end.

-spec via_of(atom() | undefined, pid()) -> map() | undefined.
via_of(undefined, P) -> via(P);
via_of(_Name, _P) -> undefined.

has_elixir() -> code:is_loaded('Elixir.Kernel') =/= false.

%% Printing is bounded too: a depth limit keeps a huge state from being printed whole first.
pretty(S, elixir, MaxBytes) ->
    case has_elixir() of
        true ->
            Limit = max(50, MaxBytes div 8),
            iolist_to_binary('Elixir.Kernel':inspect(S, [{pretty, true}, {limit, Limit}, {printable_limit, MaxBytes}, {width, 98}]));
        false -> pretty(S, erlang, MaxBytes)
    end;
pretty(S, _, MaxBytes) ->
    Depth = max(20, MaxBytes div 16),
    unicode:characters_to_binary(io_lib:format("~tP", [S, Depth])).

%% ---- modules --------------------------------------------------------------------------------

%% What the node has loaded for each module: MD5 and vsn, or not_loaded. Never loads anything.
-spec module_infos([module()]) -> [map()].
module_infos(Mods) ->
    [module_info_of(M) || M <- Mods].

module_info_of(M) ->
    case code:is_loaded(M) of
        false ->
            #{module => M, loaded => false};
        {file, File} ->
            #{module => M, loaded => true,
              md5 => hex(erlang:get_module_info(M, md5)),
              vsn => loaded_vsn(M),
              file => file_bin(File),
              old_code => erlang:check_old_code(M),
              behaviours => behaviours(M)}
    end.

%% The role the running code has, for the role-changed warning.
behaviours(M) ->
    Attrs = try M:module_info(attributes) catch _:_ -> [] end,
    lists:append([Bs || {K, Bs} <- Attrs, K =:= behaviour orelse K =:= behavior, is_list(Bs)]).

%% What the node runs of a build, in one round trip: the modules' infos, the modules loaded
%% from the build's folders, and the applications' module lists.
-spec build_facts(#{modules := [module()], dirs := [binary()], apps := [atom()]}) -> map().
build_facts(#{modules := Mods, dirs := Dirs, apps := Apps}) ->
    #{infos => module_infos(Mods), under => loaded_under(Dirs), apps => app_modules(Apps)}.

%% The modules loaded from files under Dirs (a project's ebin folders): a module that vanished
%% from the build but is still loaded is a deleted (or renamed) one.
-spec loaded_under([binary()]) -> [module()].
loaded_under(Dirs) ->
    Prefixes = [unicode:characters_to_list(D) ++ "/" || D <- Dirs],
    [M || {M, File} <- code:all_loaded(), is_list(File),
          lists:any(fun(P) -> lists:prefix(P, File) end, Prefixes)].

%% What the pitfall checks need to know of the node, for the project's modules, in one scan:
%% each loaded module's vsn and source, the processes running it (supervised or not, special or
%% not, started by whom), and what the running supervisors' child lists name.
-spec pitfall_facts(map()) -> #{modules := [map()], supervisors := [map()]}.
pitfall_facts(#{modules := Mods} = Req) ->
    ModSet = maps:from_list([{M, true} || M <- Mods]),
    Supervised = case maps:get(supervised, Req, undefined) of
                     undefined -> supervised_pids();
                     %% The tree as the caller walked it: only the scanned pids are looked up.
                     Procs -> ScanSet0 = maps:from_list([{P, true} || {P, _, _} <- maps:get(scan, Req, [])]),
                              maps:from_list([{P, true} || {P, _} <- Procs, is_map_key(P, ScanSet0)])
                 end,
    %% A scan the caller already made (the upgrade's plan, or the one it kept) serves here too.
    Scan = case maps:get(scan_id, Req, undefined) of
               undefined -> maps:get(scan, Req, undefined);
               Id -> beam_live_keeper:scan(Id)
           end,
    Found = case Scan of undefined -> module_processes(ModSet); _ -> Scan end,
    ProcsOf = lists:foldl(
        fun({P, M, How}, Acc) when is_map_key(M, ModSet) ->
                Entry = #{pid => pid_bin(P), name => reg(P), supervised => maps:is_key(P, Supervised),
                          special => How =:= proc_lib, parent => parent(P)},
                maps:update_with(M, fun(L) -> [Entry | L] end, [Entry], Acc);
           (_, Acc) -> Acc
        end, #{}, Found),
    Modules = [#{module => M, loaded => code:is_loaded(M) =/= false, vsn => loaded_vsn(M),
                 md5 => case code:is_loaded(M) of false -> undefined; _ -> hex(erlang:get_module_info(M, md5)) end,
                 source => source_of(M),
                 processes => lists:reverse(maps:get(M, ProcsOf, []))} || M <- Mods],
    #{modules => Modules, supervisors => running_supervisors(ModSet)}.

%% One pass over the node's processes: [{Pid, Module, How}] for those whose initial module (see
%% initial_module/1) is in ModSet, in the order of processes().
-spec module_processes(#{module() => true}) -> [{pid(), module(), spawn | proc_lib | fun_server}].
module_processes(ModSet) ->
    Known = beam_live_keeper:initial_table(),
    Found = lists:filtermap(
        fun(P) ->
            case known_initial_module(Known, P) of
                {M, How} when is_map_key(M, ModSet) -> {true, {P, M, How}};
                _ -> false
            end
        end, processes()),
    beam_live_keeper:forget_exited(Known),
    Found.

%% A process's initial call never changes, and reading it costs a process_info of its
%% dictionary (proc_lib's '$initial_call'): on a node of 100,000 processes that is most of a
%% scan. So it is read once per process and kept (beam_live_keeper:initial_table/0); only what
%% a spawned fun runs now is read every time.
known_initial_module(undefined, P) -> initial_module(P);
known_initial_module(Tab, P) ->
    case ets:lookup(Tab, P) of
        [{_, current}] -> current_module(P);
        [{_, Known}] -> Known;
        [] ->
            Found = initial_module(P),
            ets:insert(Tab, {P, case erlang:process_info(P, initial_call) of
                                    {initial_call, {erlang, apply, 2}} -> current;
                                    _ -> Found
                                end}),
            Found
    end.

%% The live states of each module's supervised processes against the state shape its code defines:
%% an Elixir struct of the module (its field names) or an Erlang record the module defines (its
%% size). Sampled: at most Limit processes per module, and all of them within BudgetMs, each
%% state read with a short sys:get_state, so that a node of 100,000 processes does not stall.
%% Req: #{shapes => [#{module, struct => [Field] | undefined, records => #{Name => Size}}],
%%        limit, budget_ms} -> [#{module, total, sampled, out_of_date => [#{pid, name, via,
%%        missing, extra, record, size, want}]}]
-spec state_shapes(map()) -> [map()].
state_shapes(#{shapes := Shapes} = Req) ->
    Limit = maps:get(limit, Req, 1000),
    Deadline = erlang:monotonic_time(millisecond) + maps:get(budget_ms, Req, 1000),
    Wanted = maps:from_list([{maps:get(module, S), S} || S <- Shapes]),
    %% The processes an upgrade reaches (their child spec names the module): a tree walk, no
    %% scan of every process.
    ByMod = lists:foldl(
        fun({P, Ms}, Acc) when is_list(Ms) ->
                lists:foldl(fun(M, A) when is_map_key(M, Wanted) -> maps:update_with(M, fun(L) -> [P | L] end, [P], A);
                               (_, A) -> A
                            end, Acc, Ms);
           (_, Acc) -> Acc
        end, #{}, supervised_procs()),
    [begin
         Pids = lists:reverse(maps:get(M, ByMod, [])),
         {Sampled, Bad} = sample_states(lists:sublist(Pids, Limit), maps:get(M, Wanted), Deadline, 0, []),
         #{module => M, total => length(Pids), sampled => Sampled, out_of_date => lists:reverse(Bad)}
     end || #{module := M} <- Shapes].

sample_states([], _Shape, _Deadline, N, Bad) -> {N, Bad};
sample_states([P | Ps], Shape, Deadline, N, Bad) ->
    case Deadline - erlang:monotonic_time(millisecond) of
        Left when Left =< 0 -> {N, Bad};
        Left ->
            Bad1 = case catch sys:get_state(P, min(Left, 200)) of
                       {'EXIT', _} -> Bad;
                       State ->
                           case shape_mismatch(state_term(State), Shape) of
                               ok -> Bad;
                               Why -> [Why#{pid => pid_bin(P), name => reg(P), via => via_of(reg(P), P)} | Bad]
                           end
                   end,
            sample_states(Ps, Shape, Deadline, N + 1, Bad1)
    end.

%% gen_statem's state is {StateName, Data}: the data is what has the shape.
state_term({_Name, Data}) when is_map(Data); is_tuple(Data) -> Data;
state_term(S) -> S.

shape_mismatch(#{'__struct__' := M} = S, #{module := M, struct := Fields}) when is_list(Fields) ->
    Have = [K || K <- maps:keys(S), K =/= '__struct__'],
    case {Fields -- Have, Have -- Fields} of
        {[], []} -> ok;
        {Missing, Extra} -> #{missing => Missing, extra => Extra}
    end;
shape_mismatch(T, #{records := Records}) when is_tuple(T), tuple_size(T) > 0, is_atom(element(1, T)), is_map(Records) ->
    case maps:find(element(1, T), Records) of
        {ok, Size} when Size =/= tuple_size(T) - 1 -> #{record => element(1, T), size => tuple_size(T) - 1, want => Size};
        _ -> ok
    end;
shape_mismatch(_, _) -> ok.

%% A fingerprint of what the pitfall checks read, cheap enough to poll: the project's loaded
%% code (MD5, old code) and the top supervisors of the project's applications (a restarted
%% application has new ones). No process scan, only one call per project application master:
%% polling it costs the same on a node of 100 or 100,000 processes. Processes started or
%% stopped by hand are not in it; the next save or upgrade sees them.
-spec pitfall_stamp([module()]) -> non_neg_integer().
pitfall_stamp(Mods) ->
    Code = [{M, case code:is_loaded(M) of
                    false -> false;
                    _ -> {erlang:get_module_info(M, md5), erlang:check_old_code(M)}
                end} || M <- Mods],
    Roots = [{A, app_root(A)} || A <- project_apps(auto)],
    erlang:phash2({Code, Roots}).

source_of(M) ->
    case code:is_loaded(M) of
        false -> undefined;
        _ ->
            case catch proplists:get_value(source, erlang:get_module_info(M, compile)) of
                S when is_list(S) -> unicode:characters_to_binary(S);
                _ -> undefined
            end
    end.

%% Application callback modules own their app's top supervisor; supervisor modules own the
%% supervisors whose callback they are.
running_supervisors(ModSet) ->
    Apps = [{AppMod, app_root(App)} || {App, _, _} <- application:which_applications(),
                                       {ok, {AppMod, _}} <- [application:get_key(App, mod)],
                                       maps:is_key(AppMod, ModSet)],
    %% Only supervisors are asked for their children: which_children is a call a worker
    %% would not understand (and crash on).
    %% The callback from '$initial_call' (a dictionary read), not sys:get_status: that one
    %% copies the whole state, 100,000 children of a DynamicSupervisor included. And the trees
    %% are walked only when a supervisor module is asked about.
    Sups = case lists:any(fun is_supervisor_module/1, maps:keys(ModSet)) of
               true -> [{M, P} || P <- supervisor_pids(), {supervisor, M, _} <- [initial_call_of(P)]];
               false -> []
           end,
    [#{module => M, pid => pid_bin(P),
       children => [child_module(Ms) || {_, _, _, Ms} <- which_children(P)]}
     || {M, P} <- Apps ++ Sups, is_pid(P), maps:is_key(M, ModSet)].

is_supervisor_module(M) ->
    code:is_loaded(M) =/= false andalso
        lists:any(fun(B) -> lists:member(B, [supervisor, 'Elixir.Supervisor', 'Elixir.DynamicSupervisor']) end,
                  lists:append([B || {K, B} <- attributes_of(M), K =:= behaviour orelse K =:= behavior])).

attributes_of(M) ->
    case catch M:module_info(attributes) of
        L when is_list(L) -> L;
        _ -> []
    end.

initial_call_of(P) ->
    case erlang:process_info(P, dictionary) of
        {dictionary, D} -> proplists:get_value('$initial_call', D);
        _ -> undefined
    end.

child_module([M | _]) when is_atom(M) -> M;
child_module(_) -> undefined.

%% The processes still running old code of each module that has some: one scan of the node,
%% only for the modules that need it.
-spec old_code_users([module()]) -> [map()].
old_code_users(Mods) ->
    beam_live_purge:idle(),
    old_code_users_of(beam_live_reach:old_code_pids(Mods)).

-spec old_code_users_of([{pid(), module()}]) -> [map()].
old_code_users_of(OldCode) ->
    [#{pid => pid_bin(P), name => reg(P), module => M, function => current(P),
       restart => element(3, beam_live_reach:victim(P))}
     || {P, M} <- OldCode].

-spec current(pid()) -> binary() | undefined.
current(P) ->
    case erlang:process_info(P, current_function) of
        {current_function, {M, F, A}} -> iolist_to_binary(io_lib:format("~s:~s/~b", [M, F, A]));
        _ -> undefined
    end.

-spec hex(binary() | undefined) -> binary() | undefined.
hex(undefined) -> undefined;
hex(Bin) -> list_to_binary([io_lib:format("~2.16.0b", [X]) || <<X>> <= Bin]).

%% release_handler_1:get_vsn/1, applied to the loaded module rather than the file on disk.
loaded_vsn(M) -> fmt(loaded_vsn_term(M)).

%% The unwrapped vsn term of the loaded module (undefined when not loaded).
-spec loaded_vsn_term(module() | undefined) -> term().
loaded_vsn_term(undefined) -> undefined;
loaded_vsn_term(M) ->
    case code:is_loaded(M) of
        false -> undefined;
        _ ->
            case catch erlang:get_module_info(M, attributes) of
                Attrs when is_list(Attrs) ->
                    case lists:keyfind(vsn, 1, Attrs) of
                        {vsn, V} -> unwrap_vsn(V);
                        false -> undefined
                    end;
                _ -> undefined
            end
    end.

-spec unwrap_vsn(term()) -> term().
unwrap_vsn(V) ->
    case is_string(V) of
        true -> V;
        false ->
            case V of
                [T] -> T;
                _ -> V
            end
    end.

is_string([]) -> false;
is_string(L) when is_list(L) ->
    try lists:all(fun(C) -> is_integer(C) andalso C >= 32 andalso C =< 255 end, L)
    catch error:_ -> false    % an improper list
    end;
is_string(_) -> false.

%% The modules list each application had when the node loaded it (its .app then), or
%% undefined for an application the node never loaded: what a release upgrade diffs against.
-spec app_modules([atom()]) -> [#{app := atom(), modules := [module()] | undefined}].
app_modules(Apps) ->
    [#{app => A, modules => case application:get_key(A, modules) of {ok, Ms} -> Ms; undefined -> undefined end}
     || A <- Apps].

%% ---- failures, as the module's language prints them -------------------------------------

%% A failure reason as a person reads it: {Short, Full}. An exception raised by a code_change
%% comes back from sys as {'EXIT', {Reason, Stacktrace}}; on a node with Elixir, Elixir prints
%% it (** (RuntimeError) migration failed, then the stacktrace); elsewhere Erlang's terms.
-spec explain(term()) -> {binary(), binary()}.
explain({'EXIT', {Reason, Stack}}) when is_list(Stack) -> explain(error, Reason, Stack);
explain({'EXIT', Reason}) -> explain(exit, Reason, []);
explain(Reason) ->
    Text = iolist_to_binary(io_lib:format("~0tp", [Reason])),
    {Text, Text}.

explain(Kind, Reason, Stack) ->
    case has_elixir() of
        true ->
            try
                {iolist_to_binary('Elixir.Exception':format_banner(Kind, Reason, Stack)),
                 iolist_to_binary('Elixir.Exception':format(Kind, Reason, Stack))}
            catch _:_ -> explain_erlang(Kind, Reason, Stack)
            end;
        false -> explain_erlang(Kind, Reason, Stack)
    end.

explain_erlang(Kind, Reason, Stack) ->
    {iolist_to_binary(io_lib:format("~0tp", [Reason])),
     iolist_to_binary(erl_error:format_exception(Kind, Reason, Stack))}.

%% A module as its language writes it: MyApp.Counter for Elixir.MyApp.Counter.
-spec module_text(module()) -> binary().
module_text(M) when is_atom(M) ->
    case atom_to_binary(M, utf8) of
        <<"Elixir.", Rest/binary>> -> Rest;
        B -> B
    end.

%% ---- helpers --------------------------------------------------------------------------------

take(L, infinity) -> {L, false};
take(L, N) when length(L) =< N -> {L, false};
take(L, N) -> {lists:sublist(L, N), true}.

pid_bin(P) -> list_to_binary(pid_to_list(P)).
fmt(undefined) -> undefined;
fmt(T) -> show(T).
show(T) -> iolist_to_binary(io_lib:format("~p", [T])).
file_bin(F) when is_list(F) -> unicode:characters_to_binary(F);
file_bin(F) -> fmt(F).
bin(L) when is_list(L) -> unicode:characters_to_binary(L);
bin(B) when is_binary(B) -> B;
bin(T) -> fmt(T).
