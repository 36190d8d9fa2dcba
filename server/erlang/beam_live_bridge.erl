%% The bridge: a hidden node between the language server and the target node.
%%
%% It speaks {packet,4} frames of external term format with the language server over its own
%% stdin/stdout, and Erlang distribution with the target. The cookie arrives in the first frame,
%% never on a command line. The work itself runs on the target, in beam_live_agent: the bridge
%% only connects, loads the agent and relays calls, so that nothing per process crosses the wire.
%%
%% Frames in:  {Id, Request}          Frames out: {reply, Id, Result} | {event, Name, Data}
%%
%% The attached node is the target. The other nodes of its cluster are peers: connected with
%% the same cookie and given the agent on request (connect_peers), then called by name.
-module(beam_live_bridge).
-export([main/0]).

-spec main() -> no_return().
main() ->
    %% stdout carries our frames: the logger must not write to it, and neither may any output
    %% of code run for us on the target (a remote call's io goes to the caller's group
    %% leader: IEx's recompile() prints "Compiling 1 file"), so ours is standard_error.
    _ = logger:remove_handler(default),
    _ = logger:add_handler(default, logger_std_h, #{config => #{type => standard_error}}),
    group_leader(whereis(standard_error), self()),
    Port = open_port({fd, 0, 1}, [{packet, 4}, binary, eof]),
    process_flag(trap_exit, true),
    loop(#{port => Port, target => undefined, peers => #{}}).

loop(#{port := Port} = S) ->
    receive
        {Port, {data, Data}} ->
            {Id, Request} = binary_to_term(Data),
            loop(handle(Id, Request, S));
        {Port, eof} ->
            %% The language server is gone. The agent's watchdog on the target sees our node
            %% disappear and resumes anything an unfinished upgrade suspended.
            halt(0);
        {reply, Id, Result} ->
            send(Port, {reply, Id, bounded(Result)}),
            loop(S);
        {nodedown, Node} ->
            send(Port, {event, nodedown, Node}),
            loop(gone(Node, S));
        {'EXIT', Port, _} ->
            halt(0);
        _Other ->
            loop(S)
    end.

%% A huge answer (a state or a report gone wild, a deliberate bomb) is refused here, before it
%% is encoded for the language server.
-define(MAX_REPLY_BYTES, 64 * 1024 * 1024).

bounded(Result) ->
    case erlang:external_size(Result) of
        Size when Size > ?MAX_REPLY_BYTES -> {error, {too_large, Size, ?MAX_REPLY_BYTES}};
        _ -> Result
    end.

send(Port, Term) ->
    port_command(Port, term_to_binary(Term)).

handle(Id, {connect, Opts}, #{port := Port} = S) ->
    Result = connect(Opts),
    send(Port, {reply, Id, Result}),
    case Result of
        %% The cookie stays in this VM's memory for the peers of the same cluster.
        {ok, _} -> S#{target := maps:get(target, Opts), cookie => maps:get(cookie, Opts), confirmed => maps:get(confirmed, Opts, false)};
        _ -> S
    end;
handle(Id, {connect_peers, Which}, #{port := Port} = S) ->
    {Results, S1} = connect_peers(Which, S),
    send(Port, {reply, Id, {ok, Results}}),
    S1;
handle(Id, {call, Node, M, F, A, Timeout}, S) ->
    Self = self(),
    To = known(Node, S),
    spawn_link(fun() -> Self ! {reply, Id, call(To, M, F, A, Timeout)} end),
    S;
handle(Id, {call_watched, Node, M, F, [Req], Timeout}, S) when is_map(Req) ->
    %% The agent's watchdog monitors this worker: if the bridge dies, the upgrade is undone
    %% and everything it suspended is resumed.
    Self = self(),
    To = known(Node, S),
    spawn_link(fun() -> Self ! {reply, Id, call(To, M, F, [Req#{caller => self()}], Timeout)} end),
    S;
handle(Id, {consult, Path}, #{port := Port} = S) ->
    %% An .appup is Erlang terms: read here, by Erlang, never on the target.
    send(Port, {reply, Id, case file:consult(Path) of
                               {ok, Terms} -> {ok, Terms};
                               {error, E} -> {error, {consult, file:format_error(E)}}
                           end}),
    S;
handle(Id, {compile_erl, Req}, S) ->
    %% Saved Erlang modules compiled here, warm, on the developer's machine (beam_live_erlc).
    Self = self(),
    spawn_link(fun() -> Self ! {reply, Id, try {ok, beam_live_erlc:compile(Req)}
                                           catch C:R -> {error, {compile_erl, C, R}}
                                           end} end),
    S;
handle(Id, disconnect, #{port := Port, target := Target, peers := Peers} = S) ->
    [erlang:disconnect_node(N) || N <- [Target | maps:keys(Peers)], N =/= undefined],
    send(Port, {reply, Id, {ok, ok}}),
    S#{target := undefined, peers := #{}};
handle(Id, Other, #{port := Port} = S) ->
    send(Port, {reply, Id, {error, {unknown_request, Other}}}),
    S.

%% Only the target and the connected peers are called: erpc to any other name would connect
%% with a cookie nobody chose.
known(Node, #{target := Node}) when Node =/= undefined -> Node;
known(Node, #{peers := Peers}) when is_map_key(Node, Peers) -> Node;
known(_Node, _S) -> undefined.

gone(Node, #{target := Node} = S) -> S#{target := undefined};
gone(Node, #{peers := Peers} = S) -> S#{peers := maps:remove(Node, Peers)}.

%% The nodes the target sees (visible ones: hidden nodes are tools like this bridge), or the
%% given ones; each connected with the attached node's cookie and checked and given the agent
%% as the target was. A node connected before is only reported.
connect_peers(_Which, #{target := undefined} = S) ->
    {[], S};
connect_peers(Which, #{target := Target, peers := Peers} = S) ->
    Nodes = case Which of
                all -> try erpc:call(Target, erlang, nodes, [visible], 5000) catch _:_ -> [] end;
                List -> [N || N <- List, N =/= Target]
            end,
    Results = [{N, case is_map_key(N, Peers) of
                       true -> ok;
                       false -> connect_peer(N, S)
                   end} || N <- Nodes],
    Ok = [N || {N, ok} <- Results],
    {[#{node => N, result => R} || {N, R} <- Results], S#{peers := maps:merge(Peers, maps:from_keys(Ok, true))}}.

connect_peer(Node, #{cookie := Cookie, confirmed := Confirmed}) ->
    erlang:set_cookie(Node, binary_to_atom(Cookie, utf8)),
    case net_kernel:connect_node(Node) of
        true ->
            erlang:monitor_node(Node, true),
            case needs_confirmation(Node, host_of(Node), Confirmed) of
                false ->
                    case load_agent(Node) of
                        ok -> ok;
                        {error, E} -> {error, E}
                    end;
                Why ->
                    erlang:disconnect_node(Node),
                    {error, {needs_confirmation, Why}}
            end;
        _ ->
            {error, not_reachable}
    end.

call(undefined, _M, _F, _A, _Timeout) ->
    {error, not_attached};
call(Target, M, F, A, Timeout) ->
    try erpc:call(Target, M, F, A, Timeout) of
        R -> {ok, R}
    catch
        error:{erpc, Reason} -> {error, {erpc, Reason}};
        Class:Reason -> {error, {Class, Reason}}
    end.

connect(#{target := Target, name_type := NameType, cookie := Cookie} = Opts) ->
    Host = host_of(Target),
    case start_distribution(Host, NameType) of
        ok ->
            erlang:set_cookie(Target, binary_to_atom(Cookie, utf8)),
            case net_kernel:connect_node(Target) of
                true ->
                    erlang:monitor_node(Target, true),
                    case needs_confirmation(Target, Host, maps:get(confirmed, Opts, false)) of
                        false -> attach(Target);
                        Why ->
                            erlang:disconnect_node(Target),
                            {error, {needs_confirmation, Why}}
                    end;
                _ ->
                    {error, diagnose(Target, Host, Cookie)}
            end;
        {error, Reason} ->
            {error, {distribution_failed, Reason}}
    end.

attach(Target) ->
    case load_agent(Target) of
        ok ->
            {ok, #{node => Target, otp_release => erpc:call(Target, erlang, system_info, [otp_release], 5000)}};
        {error, _} = E ->
            E
    end.

%% Before anything is loaded into it: a node that does not look like a development node (on
%% another host, or running a release) is attached to only once the user confirmed.
needs_confirmation(_Target, _Host, true) ->
    false;
needs_confirmation(Target, Host, false) ->
    Release = [V || V <- ["RELEASE_NAME", "RELEASE_ROOT"],
                    is_list(catch erpc:call(Target, os, getenv, [V], 5000))],
    [Name | _] = string:split(atom_to_list(Target), "@"),
    Production = re:run(Name, "prod|staging", [caseless, {capture, none}]) =:= match,
    case {Release, local_host(Host), Production} of
        {[_ | _], _, _} -> <<"it runs a release (RELEASE_NAME/RELEASE_ROOT is set)">>;
        {[], false, _} -> iolist_to_binary(["it runs on another host (", Host, ")"]);
        {[], true, true} -> iolist_to_binary(["its name (", Name, ") says production or staging"]);
        {[], true, false} -> false
    end.

local_host(Host) ->
    {ok, Own} = inet:gethostname(),
    lists:member(Host, ["localhost", "127.0.0.1", "::1", Own]) orelse lists:prefix("127.", Host)
        orelse lists:prefix(Own ++ ".", Host).

host_of(Node) ->
    case string:split(atom_to_list(Node), "@") of
        [_, Host] -> Host;
        _ -> "localhost"
    end.

%% -dist_listen false (set by the language server) keeps this node from listening at all and
%% from registering with epmd: it only ever connects out.
start_distribution(Host, NameType) ->
    case node() of
        nonode@nohost ->
            Name = list_to_atom("beam_live_" ++ os:getpid() ++ "@" ++ Host),
            case net_kernel:start(Name, #{name_domain => NameType, hidden => true}) of
                {ok, _} -> ok;
                {error, {already_started, _}} -> ok;
                {error, Reason} -> {error, Reason}
            end;
        _ ->
            ok
    end.

%% pang covers a stopped node, a wrong cookie, a wrong host part and an unreachable host alike;
%% epmd tells them apart. A node started with --sname app is app@<this machine's short name>,
%% whatever name epmd lists it under: where the host is this machine, the names it may really
%% have are tried (with the same cookie) before the cookie is blamed.
diagnose(Target, Host, Cookie) ->
    [Name | _] = string:split(atom_to_list(Target), "@"),
    case erl_epmd:names(Host) of
        {ok, Names} ->
            case lists:keymember(Name, 1, Names) of
                true ->
                    Others = other_names(Name, Host),
                    case [N || N <- Others, reachable(N, Cookie)] of
                        [Real | _] -> {wrong_host, Target, Real};
                        [] -> {connection_rejected, Target, Others}
                    end;
                false -> {not_running, Target, [list_to_binary(N) || {N, _} <- Names]}
            end;
        {error, address} ->
            {epmd_unreachable, list_to_binary(Host)};
        {error, Reason} ->
            {epmd_unreachable, list_to_binary(Host), Reason}
    end.

%% Name@Host for the host names of this machine other than Host, of the same kind (short names
%% without a dot, long names with one), when Host is this machine.
other_names(Name, Host) ->
    case local_host(Host) of
        false -> [];
        true ->
            {ok, Short} = inet:gethostname(),
            Long = net_adm:localhost(),
            Dotted = lists:member($., Host),
            Hosts = lists:usort([H || H <- [Short, Long, "localhost"], H =/= Host, lists:member($., H) =:= Dotted]),
            [list_to_atom(Name ++ "@" ++ H) || H <- Hosts]
    end.

reachable(Node, Cookie) ->
    erlang:set_cookie(Node, binary_to_atom(Cookie, utf8)),
    case net_kernel:connect_node(Node) of
        true -> erlang:disconnect_node(Node), true;
        _ -> false
    end.

%% Loading a module purges its old code, which would kill an agent process still running in it
%% (the keeper, a watchdog): load only what the node does not already run in this very version.
load_agent(Target) ->
    load_agent(Target, [beam_live_agent, beam_live_sys, beam_live_reach, beam_live_keeper, beam_live_purge, beam_live_upgrade, beam_live_rehearse, beam_live_config]).

load_agent(_Target, []) ->
    ok;
load_agent(Target, [Mod | Rest]) ->
    {Mod, Bin, File} = code:get_object_code(Mod),
    {ok, {Mod, Md5}} = beam_lib:md5(Bin),
    case catch erpc:call(Target, erlang, get_module_info, [Mod, md5], 5000) of
        Md5 ->
            load_agent(Target, Rest);
        _ ->
            case catch erpc:call(Target, code, load_binary, [Mod, File, Bin], 10000) of
                {module, Mod} -> load_agent(Target, Rest);
                Other -> {error, {agent_load_failed, Other}}
            end
    end.
