%% Compiles the saved Erlang modules of a rebar3 project in the bridge's own VM, as rebar3 would
%% (its erl_opts, its include folders, into its ebin), so that a save costs the compile and not
%% a VM start: a warm erlc. It runs on the developer's machine, never on the target node.
-module(beam_live_erlc).
-export([compile/1]).

%% Req: #{files => [Path], outdir => Path, app_dir => Path, root => Path, lib_dirs => [Path]}
%% -> #{ok => boolean(), diagnostics => [#{file, line, column, severity, message}]}
-spec compile(map()) -> map().
compile(#{files := Files, outdir := Out, app_dir := AppDir, root := Root} = Req) ->
    %% -include_lib and parse transforms of dependencies resolve through the code path.
    code:add_pathsa([D || D <- maps:get(lib_dirs, Req, []), filelib:is_dir(D)]),
    Opts = [return, debug_info, {outdir, Out},
            {i, filename:join(AppDir, "include")}, {i, filename:join(AppDir, "src")}, {i, AppDir},
            {i, filename:join(Root, "include")}
            | erl_opts(Root, AppDir)],
    Results = [{F, compile:file(F, Opts)} || F <- Files],
    #{ok => lists:all(fun({_, R}) -> element(1, R) =:= ok end, Results),
      diagnostics => lists:append([diagnostics(F, R) || {F, R} <- Results])}.

%% The project's erl_opts (the app's rebar.config over the root's), without what only rebar3
%% understands.
erl_opts(Root, AppDir) ->
    Own = fun(Dir) ->
              case file:consult(filename:join(Dir, "rebar.config")) of
                  {ok, Terms} -> proplists:get_value(erl_opts, Terms, []);
                  _ -> []
              end
          end,
    [O || O <- Own(AppDir) ++ Own(Root), compile_opt(O)] ++
        [{i, filename:join(Dir, I)} || Dir <- [AppDir, Root], {i, I} <- Own(Dir)].

compile_opt({platform_define, _, _}) -> false;
compile_opt({platform_define, _, _, _}) -> false;
compile_opt({i, _}) -> false;
compile_opt({src_dirs, _}) -> false;
compile_opt({extra_src_dirs, _}) -> false;
compile_opt(_) -> true.

diagnostics(_File, {ok, _Mod}) -> [];
diagnostics(_File, {ok, _Mod, Warnings}) -> issues(Warnings, warning);
diagnostics(_File, {error, Errors, Warnings}) -> issues(Errors, error) ++ issues(Warnings, warning);
diagnostics(File, error) -> [#{file => bin(File), line => 1, column => undefined, severity => error, message => <<"compile failed">>}].

issues(List, Severity) ->
    [#{file => bin(F), line => line(Loc), column => column(Loc), severity => Severity,
       message => unicode:characters_to_binary(M:format_error(Desc))}
     || {F, Items} <- List, {Loc, M, Desc} <- Items].

line({L, _}) -> L;
line(L) when is_integer(L) -> L;
line(_) -> 1.

column({_, C}) -> C;
column(_) -> undefined.

bin(F) -> unicode:characters_to_binary(F).
