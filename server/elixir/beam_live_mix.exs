# Compiles a mix project in this VM and reports the result to BEAM Live as one line:
#   BEAM_LIVE_RESULT <base64 of term_to_binary(map)>
# Mix's own output goes to stderr, so that stdout carries only that line.
# Run from the project directory: elixir beam_live_mix.exs
defmodule BeamLive.MixCompile do
  # One compile in a fresh VM (the default), or many in this one (--serve: the warm build VM,
  # which answers each "compile" line on stdin with one result line). Either way the new code
  # is loaded only here, never into the node being upgraded.
  def start do
    Mix.start()
    Mix.shell(Mix.Shell.Quiet)
    Code.compile_file("mix.exs")
    Mix.Task.run("loadconfig")
  end

  def run(warm \\ false) do
    {status, diagnostics} = if warm, do: recompile(), else: compile()

    %{
      status: status,
      diagnostics: Enum.map(diagnostics, &diagnostic/1),
      apps: apps(),
      build_path: Mix.Project.build_path(),
      consolidation_path: Mix.Project.consolidation_path(),
      sources: BeamLive.SourceFacts.collect(Mix.Project.config()[:elixirc_paths] || ["lib"])
    }
  end

  defp compile do
    case Mix.Task.run("compile", ["--return-errors", "--no-protocols-warning"]) do
      {status, diags} when is_list(diags) -> {status, diags}
      status when is_atom(status) -> {status, []}
      _ -> {:ok, []}
    end
  rescue
    e -> {:error, [%{file: nil, severity: :error, message: Exception.message(e), position: nil}]}
  end

  # In a warm VM "compile" has already run and answers :noop: rerun each compiler instead.
  defp recompile do
    results =
      for task <- ["compile.erlang", "compile.elixir", "compile.app", "compile.protocols"] do
        case Mix.Task.rerun(task, ["--return-errors"]) do
          {status, diags} when is_list(diags) -> {status, diags}
          status when is_atom(status) -> {status, []}
          _ -> {:ok, []}
        end
      end

    status = if Enum.any?(results, fn {s, _} -> s == :error end), do: :error, else: :ok
    {status, Enum.flat_map(results, fn {_, d} -> d end)}
  rescue
    e -> {:error, [%{file: nil, severity: :error, message: Exception.message(e), position: nil}]}
  end

  defp diagnostic(d) do
    {line, column} =
      case d.position do
        {l, c} -> {l, c}
        l when is_integer(l) -> {l, nil}
        _ -> {nil, nil}
      end

    %{file: d.file && to_string(d.file), severity: d.severity, message: IO.chardata_to_string(d.message), line: line, column: column}
  end

  defp apps do
    if Mix.Project.umbrella?() do
      Mix.Project.apps_paths() |> Map.keys()
    else
      [Mix.Project.config()[:app]]
    end
  end
end

defmodule BeamLive.SourceFacts do
  # What the compiled beam does not say about where things are: the @vsn line and the items of
  # `children = [...]`, read from the parsed source (never from regular expressions).
  # A warm VM asks again at every save: a file is parsed again only when its content changed
  # (mtimes here are whole seconds, and two saves may fall in one).
  def collect(paths) do
    for path <- paths, file <- Path.wildcard(Path.join(path, "**/*.ex")), facts = cached_facts(file), facts != [] do
      %{file: Path.expand(file), modules: facts}
    end
  end

  defp cached_facts(file) do
    case File.read(file) do
      {:ok, text} ->
        stamp = :erlang.md5(text)

        case Process.get({__MODULE__, file}) do
          {^stamp, facts} ->
            facts

          _ ->
            facts = file_facts(file, text)
            Process.put({__MODULE__, file}, {stamp, facts})
            facts
        end

      _ ->
        []
    end
  end

  defp file_facts(file, text) do
    case Code.string_to_quoted(text, columns: true, file: file) do
      {:ok, ast} -> modules(ast, nil)
      _ -> []
    end
  rescue
    _ -> []
  end

  defp modules(ast, parent) do
    {_, acc} =
      Macro.prewalk(ast, [], fn
        {:defmodule, meta, [{:__aliases__, _, parts}, [do: body]]}, acc ->
          name = if parent, do: Module.concat(parent, Module.concat(parts)), else: Module.concat(parts)
          facts = %{
            module: name,
            line: meta[:line],
            vsn_line: vsn_line(body),
            children: children(body)
          }
          {nil, acc ++ [facts] ++ modules(body, name)}

        node, acc ->
          {node, acc}
      end)

    acc
  end

  # Only this module's own body: a nested defmodule has its own facts.
  defp own_walk(body, acc, fun) do
    {_, acc} =
      Macro.prewalk(body, acc, fn
        {:defmodule, _, _}, acc -> {nil, acc}
        node, acc -> fun.(node, acc)
      end)

    acc
  end

  defp vsn_line(body) do
    own_walk(body, nil, fn
      {:@, meta, [{:vsn, _, [_]}]} = node, nil -> {node, meta[:line]}
      node, acc -> {node, acc}
    end)
  end

  defp children(body) do
    own_walk(body, [], fn
      {def, _, [head | _]} = node, acc when def in [:def, :defp] ->
        fun = fun_name(head)
        {node, acc ++ Enum.map(child_lists(node), &Map.put(&1, :function, fun))}

      node, acc ->
        {node, acc}
    end)
  end

  defp fun_name({:when, _, [head | _]}), do: fun_name(head)
  defp fun_name({name, _, args}) when is_atom(name), do: "#{name}/#{length(List.wrap(args))}"
  defp fun_name(_), do: nil

  defp child_lists(def_node) do
    own_walk(def_node, [], fn
      {:=, _, [{:children, _, ctx}, list]} = node, acc when is_atom(ctx) and is_list(list) ->
        {node, acc ++ Enum.map(list, &child/1)}

      node, acc ->
        {node, acc}
    end)
  end

  defp child(item) do
    {line, column} = position(item)
    %{line: line, column: column, text: Macro.to_string(item), module: child_module(item)}
  end

  defp position({:__aliases__, meta, _}), do: {meta[:line], meta[:column]}
  defp position({a, _}), do: position(a)
  defp position({_, meta, _}) when is_list(meta), do: {meta[:line], meta[:column]}
  defp position(_), do: {nil, nil}

  # The module the child spec's start MFA names, which is what which_children reports.
  defp child_module({:__aliases__, _, parts}), do: Module.concat(parts)
  defp child_module({mod, _arg}), do: child_module(mod)
  defp child_module({:%{}, _, kv}), do: kv |> Keyword.get(:start) |> start_module()
  defp child_module({{:., _, [{:__aliases__, _, [:Supervisor]}, :child_spec]}, _, [spec | _]}), do: child_module(spec)
  defp child_module(atom) when is_atom(atom), do: atom
  defp child_module(_), do: nil

  defp start_module({:{}, _, [m | _]}), do: child_module(m)
  defp start_module(_), do: nil
end

defmodule BeamLive.Main do
  def reply(fun) do
    result =
      try do
        fun.()
      rescue
        e -> %{status: :error, diagnostics: [%{file: nil, severity: :error, message: Exception.message(e), line: nil, column: nil}], apps: []}
      end

    IO.puts("BEAM_LIVE_RESULT " <> Base.encode64(:erlang.term_to_binary(result)))
  end

  def serve do
    case IO.gets("") do
      :eof -> :ok
      {:error, _} -> :ok
      line ->
        if String.trim(line) == "compile", do: reply(fn -> BeamLive.MixCompile.run(true) end)
        serve()
    end
  end
end

case System.argv() do
  ["--serve"] ->
    BeamLive.Main.reply(fn ->
      BeamLive.MixCompile.start()
      BeamLive.MixCompile.run(false)
    end)

    BeamLive.Main.serve()

  _ ->
    BeamLive.Main.reply(fn ->
      BeamLive.MixCompile.start()
      BeamLive.MixCompile.run(false)
    end)
end
