%% Config changes applied the way a release applies them: each application's env becomes its
%% .app file's env merged with the new configuration (application_controller's
%% change_application_data), and the application callback's config_change(Changed, New,
%% Removed) is called as application_controller:config_change/1 calls it. Unlike a release, an
%% application whose callback fails gets its env back.
-module(beam_live_config).
-export([changes/1, apply_changes/1]).

%% Apps: [{App, [{Key, Value}]}], the project's configuration as it reads now.
-spec changes([{atom(), [{atom(), term()}]}]) -> [map()].
changes(Apps) ->
    [show(C) || C <- diffs(Apps)].

-spec apply_changes([{atom(), [{atom(), term()}]}]) -> [map()].
apply_changes(Apps) ->
    [apply_one(C) || C <- diffs(Apps)].

diffs(Apps) ->
    Loaded = [A || {A, _, _} <- application:loaded_applications()],
    [C || {App, Kvs} <- Apps, lists:member(App, Loaded), C <- [diff(App, Kvs)], C =/= none].

diff(App, Kvs) ->
    Want = merge(app_file_env(App), Kvs),
    Have = lists:keysort(1, [KV || {K, _} = KV <- application:get_all_env(App), K =/= included_applications]),
    %% As application_controller's do_config_diff/2.
    Changed = [{K, V} || {K, V} <- Want, case lists:keyfind(K, 1, Have) of {K, V} -> false; {K, _} -> true; false -> false end],
    New = [{K, V} || {K, V} <- Want, not lists:keymember(K, 1, Have)],
    Removed = [K || {K, _} <- Have, not lists:keymember(K, 1, Want)],
    case {Changed, New, Removed} of
        {[], [], []} -> none;
        _ -> {App, Changed, New, Removed, Have}
    end.

apply_one({App, Changed, New, Removed, Have} = C) ->
    [application:set_env(App, K, V, [{persistent, true}]) || {K, V} <- Changed ++ New],
    [application:unset_env(App, K, [{persistent, true}]) || K <- Removed],
    Result = case application:get_key(App, mod) of
                 {ok, {Mod, _}} ->
                     _ = code:ensure_loaded(Mod),
                     case erlang:function_exported(Mod, config_change, 3) of
                         true ->
                             try Mod:config_change(Changed, New, Removed) of
                                 ok -> ok;
                                 Other -> {error, Other}
                             catch Class:Reason:Stack -> {error, {Class, Reason, Stack}}
                         end;
                         false -> no_callback
                     end;
                 _ -> no_callback
             end,
    case Result of
        {error, _} ->
            %% The env goes back where the callback failed.
            [application:unset_env(App, K, [{persistent, true}]) || {K, _} <- New],
            [application:set_env(App, K, V, [{persistent, true}]) || {K, V} <- Have];
        _ -> ok
    end,
    (show(C))#{callback => callback_text(Result), restored => is_tuple(Result) andalso element(1, Result) =:= error}.

callback_text({error, {Class, Reason, Stack}}) when is_list(Stack), (Class =:= error orelse Class =:= exit orelse Class =:= throw) ->
    element(1, beam_live_agent:explain({'EXIT', {Reason, Stack}}));
callback_text({error, Other}) -> text(Other);
callback_text(Done) -> Done.

show({App, Changed, New, Removed, _Have}) ->
    #{app => App,
      changed => [#{key => K, value => text(V)} || {K, V} <- Changed],
      new => [#{key => K, value => text(V)} || {K, V} <- New],
      removed => Removed}.

%% The env the .app file gives (application_controller keeps it as the application's default).
app_file_env(App) ->
    case code:where_is_file(atom_to_list(App) ++ ".app") of
        non_existing -> [];
        File ->
            case file:consult(File) of
                {ok, [{application, App, Props}]} -> proplists:get_value(env, Props, []);
                _ -> []
            end
    end.

%% Later keys win, as merge_app_env does.
merge(Base, Over) ->
    lists:ukeymerge(1, lists:ukeysort(1, Over), lists:ukeysort(1, Base)).

text(V) -> iolist_to_binary(io_lib:format("~0tp", [V])).
