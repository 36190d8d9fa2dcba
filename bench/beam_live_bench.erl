%% Loaded into the benchmark node: the anchors, run on the node so that both sides of each
%% ratio are timed in the same place.
-module(beam_live_bench).
-export([mark/1, eval_upgrade/4, start_workers/2, spawn_idle/1, sweep/1, stop_idle/0]).

mark(Tag) ->
    put({beam_live_mark, Tag}, erlang:monotonic_time(microsecond)),
    ok.

%% OTP's own release handler on the equivalent instructions, with marks around the suspended
%% window: #{total_us, window_us}.
eval_upgrade(Mod, App, Vsn, LibDir) ->
    Script = [{load_object_code, {App, Vsn, [Mod]}},
              point_of_no_return,
              {suspend, [Mod]},
              {apply, {?MODULE, mark, [suspended]}},
              {load, {Mod, brutal_purge, brutal_purge}},
              {code_change, up, [{Mod, []}]},
              {apply, {?MODULE, mark, [resuming]}},
              {resume, [Mod]},
              {apply, {?MODULE, mark, [resumed]}}],
    T0 = erlang:monotonic_time(microsecond),
    R = release_handler_1:eval_script(Script, [], [{App, Vsn, LibDir}], [], []),
    T1 = erlang:monotonic_time(microsecond),
    {ok, _} = R,
    #{total_us => T1 - T0,
      window_us => get({beam_live_mark, resumed}) - get({beam_live_mark, suspended})}.

start_workers(Sup, N) ->
    [{ok, _} = 'Elixir.DynamicSupervisor':start_child(Sup, {'Elixir.SampleApp.Worker', I}) || I <- lists:seq(1, N)],
    ok.

spawn_idle(N) ->
    Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
    persistent_term:put(beam_live_bench_idle, Pids),
    length(Pids).

stop_idle() ->
    [P ! stop || P <- persistent_term:get(beam_live_bench_idle, [])],
    ok.

sweep(Keys) ->
    [erlang:process_info(P, Keys) || P <- processes()].
