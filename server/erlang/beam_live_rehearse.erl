%% The real release upgrade on a throw-away node, watched: release_handler installs the release
%% (set_unpacked, install_release), and every code_change call in the modules it loads is
%% traced (erlang:trace_pattern(on_load, ...): the new code is loaded inside install_release, so
%% only a pattern for modules loaded later sees it), with its OldVsn and its result.
-module(beam_live_rehearse).
-export([install/2, watch/1, warmup/1]).

-define(TRACER, beam_live_rehearse_tracer).

%% The warm-up before the upgrade, so that processes hold state: Elixir code where the release
%% runs Elixir, Erlang expressions (erl_eval, as the shell reads them) otherwise.
-spec warmup(binary()) -> ok.
warmup(Code) ->
    case code:is_loaded('Elixir.Code') =/= false orelse code:which('Elixir.Code') =/= non_existing of
        true -> 'Elixir.Code':eval_string(Code), ok;
        false ->
            Text = binary_to_list(Code),
            {ok, Tokens, _} = erl_scan:string(case string:trim(Text, trailing) of "" -> "ok."; T -> case lists:last(T) of $. -> T; _ -> T ++ "." end end),
            {ok, Exprs} = erl_parse:parse_exprs(Tokens),
            erl_eval:exprs(Exprs, erl_eval:new_bindings()),
            ok
    end.

%% Rel: the .rel to unpack (undefined for a downgrade to a release already installed); Vsn the
%% release to install. Pids: the processes to report on. Nothing is left suspended: the report
%% says who is.
-spec install(string() | undefined, string()) -> map().
install(Rel, Vsn) ->
    Unpacked = case Rel of
                   undefined -> ok;
                   _ -> release_handler:set_unpacked(Rel, [])
               end,
    case Unpacked of
        {ok, _} -> traced(Vsn);
        ok -> traced(Vsn);
        Err -> #{ok => false, error => show(Err), calls => []}
    end.

traced(Vsn) ->
    Self = self(),
    Tracer = spawn(fun() -> register(?TRACER, self()), Self ! ready, collect(#{}, []) end),
    receive ready -> ok end,
    erlang:trace_pattern(on_load, [{'_', [], [{return_trace}, {exception_trace}]}], [local]),
    erlang:trace(all, true, [call, {tracer, Tracer}]),
    Result = try release_handler:install_release(Vsn) catch C:E -> {C, E} end,
    erlang:trace(all, false, [call]),
    erlang:trace_pattern(on_load, false, [local]),
    Tracer ! {self(), done},
    Calls = receive {Tracer, calls, L} -> L after 10000 -> [] end,
    #{ok => element(1, Result) =:= ok, result => show(Result), calls => Calls}.

%% Only code_change: {Pid, Module} -> its OldVsn, then its result.
collect(Open, Done) ->
    receive
        {trace, P, call, {M, code_change, [OldVsn | _]}} ->
            collect(Open#{{P, M} => OldVsn}, Done);
        {trace, P, return_from, {M, code_change, _}, R} when is_map_key({P, M}, Open) ->
            collect(maps:remove({P, M}, Open), [call(P, M, maps:get({P, M}, Open), ok_or(R)) | Done]);
        {trace, P, exception_from, {M, code_change, _}, {C, E}} when is_map_key({P, M}, Open) ->
            collect(maps:remove({P, M}, Open), [call(P, M, maps:get({P, M}, Open), {error, show({C, E})}) | Done]);
        {From, done} ->
            From ! {self(), calls, lists:reverse(Done)};
        _ ->
            collect(Open, Done)
    end.

call(P, M, OldVsn, Result) ->
    #{pid => list_to_binary(pid_to_list(P)), module => M, old_vsn => show(OldVsn),
      result => case Result of ok -> ok; {error, R} -> R end}.

ok_or({ok, _}) -> ok;
ok_or({ok, _, _}) -> ok;
ok_or(Other) -> {error, show(Other)}.

%% What each process is after: alive, suspended, running old code of its module, its state.
-spec watch([#{pid := binary(), module := module()}]) -> [map()].
watch(Procs) ->
    [seen(list_to_pid(binary_to_list(B)), M) || #{pid := B, module := M} <- Procs].

seen(P, M) ->
    Alive = is_process_alive(P),
    #{pid => list_to_binary(pid_to_list(P)), module => M,
      alive => Alive,
      suspended => Alive andalso beam_live_sys:is_suspended(P),
      old_code => Alive andalso erlang:check_old_code(M) andalso erlang:check_process_code(P, M),
      md5 => case code:is_loaded(M) of false -> undefined; _ -> beam_live_agent:hex(erlang:get_module_info(M, md5)) end,
      state => case Alive of
                   true -> try show(sys:get_state(P, 2000)) catch _:_ -> undefined end;
                   false -> undefined
               end}.

show(T) -> iolist_to_binary(io_lib:format("~0tp", [T])).
