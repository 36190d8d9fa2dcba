# Compiles a mix project in this VM and reports the result to BEAM Live as one line:
#   BEAM_LIVE_RESULT <base64 of term_to_binary(map)>
# Mix's own output goes to stderr, so that stdout carries only that line.
# Run from the project directory: elixir beam_live_mix.exs
defmodule BeamLive.MixCompile do
  # One compile in a fresh VM (the default), or many in this one (--serve: the warm build VM,
  # which answers each line on stdin with one result line). Either way the new code is loaded
  # only here, never into the node being upgraded.
  def start do
    Mix.start()
    Mix.shell(Mix.Shell.Quiet)
    Code.compile_file("mix.exs")
    Mix.Task.run("loadconfig")
  end

  def run(warm \\ false) do
    files = BeamLive.Sources.stat()
    # Which compiled: mix, or the Elixir compiler alone on the changed files (BeamLive.SavedFiles).
    {compiler, {status, diagnostics}} =
      cond do
        not warm -> {:mix, compile()}
        result = BeamLive.SavedFiles.compile(files) -> {:elixir, result}
        true -> {:mix, recompile()}
      end

    %{
      compiler: compiler,
      status: status,
      diagnostics: Enum.map(diagnostics, &diagnostic/1),
      apps: apps(),
      build_path: Mix.Project.build_path(),
      consolidation_path: Mix.Project.consolidation_path(),
      sources: BeamLive.SourceFacts.collect(files)
    }
  end

  # Mix records what the saved-files compile built, off the save's path.
  def settle do
    if BeamLive.SavedFiles.pending?(), do: BeamLive.SavedFiles.settle(&recompile/0)
    %{status: :ok, diagnostics: [], apps: apps()}
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
  def recompile do
    BeamLive.SavedFiles.before_mix()

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

defmodule BeamLive.Sources do
  # Every Elixir source mix would compile, as mix names it, with {size, mtime in seconds}.
  def stat do
    for file <- files(),
        {:ok, %File.Stat{size: size, mtime: mtime}} <- [File.stat(file, time: :posix)],
        into: %{},
        do: {file, {size, mtime}}
  end

  def files, do: Mix.Utils.extract_files(Mix.Project.config()[:elixirc_paths] || ["lib"], [:ex])

  def digest(file) do
    case File.read(file) do
      {:ok, text} -> :erlang.md5(text)
      _ -> nil
    end
  end
end

defmodule BeamLive.SavedFiles do
  # Mix's compile.elixir spends about as long deciding and recording as compiling one file
  # (measured on a 100-module project: 30 of 70 ms). When all mix would compile is a few
  # sources no other source needs at compile time, they are compiled here, with the project's
  # compiler options into mix's compile path, which gives the beam mix would write; mix itself
  # records them after the upgrade (settle), off the save's path. Anything else is mix's.
  #
  # Until then the compile path is ahead of mix's manifest. Each file compiled here is kept
  # with the digest its beam was built from: it is what the file is compared with, and mix is
  # shown it again before it runs (a file changed back to what the manifest has is not stale
  # to mix, yet its beam is not the manifest's).

  @pending {__MODULE__, :pending}

  def pending?, do: Process.get(@pending, %{}) != %{}

  @doc "The result of compiling the saved files, or nil when mix must compile."
  def compile(files) do
    with false <- Mix.Project.umbrella?(),
         {:ok, _manifest, mtime, modules, sources} <- manifest(),
         true <- Map.keys(files) |> Enum.sort() == Map.keys(sources) |> Enum.sort(),
         true <- others_unchanged?(mtime, sources),
         stale = stale(files, sources, modules, mtime),
         :ok <- alone(stale, modules, sources) do
      if stale == [], do: {:noop, []}, else: build(stale, modules)
    else
      _ -> nil
    end
  rescue
    # Whatever this could not make sense of is mix's to compile and to report.
    _ -> nil
  end

  defp manifest do
    manifest = Path.join(Mix.Project.manifest_path(), "compile.elixir")

    with {:ok, %File.Stat{mtime: mtime}} <- File.stat(manifest, time: :posix),
         {modules, sources} when is_list(modules) and is_list(sources) <- Mix.Compilers.Elixir.read_manifest(manifest),
         # The records of Elixir 1.14's manifest; any other shape is left to mix.
         true <- Enum.all?(modules, &match?({:module, _, _, [_ | _], _, _}, &1)),
         true <- Enum.all?(sources, &match?({:source, _, _, _, _, _, _, _, _, _, _}, &1)) do
      by_source = Map.new(sources, fn s -> {elem(s, 1), s} end)
      {:ok, manifest, mtime, modules, by_source}
    else
      _ -> :error
    end
  end

  # Nothing that would make mix compile more than the changed sources: config, Erlang sources
  # (each against its beam, as compile.erlang compares them), a source's external resources.
  defp others_unchanged?(mtime, sources) do
    erlang = Mix.Utils.extract_files(Mix.Project.config()[:erlc_paths] || ["src"], [:erl, :hrl])
    {erls, hrls} = Enum.split_with(erlang, &String.ends_with?(&1, ".erl"))
    beam = fn erl -> Path.join(Mix.Project.compile_path(), Path.basename(erl, ".erl") <> ".beam") end
    externals = for {_, s} <- sources, e <- elem(s, 8), do: if(is_tuple(e), do: elem(e, 0), else: e)

    Enum.all?([Mix.Project.config_mtime() | Enum.map(hrls ++ externals, &mtime/1)], &(&1 <= mtime)) and
      Enum.all?(erls, &(File.exists?(beam.(&1)) and mtime(&1) <= mtime(beam.(&1))))
  end

  defp mtime(file) do
    case File.stat(file, time: :posix) do
      {:ok, %File.Stat{mtime: m}} -> m
      _ -> :infinity
    end
  end

  # The sources whose content differs from what their beams were built from, and those with a
  # beam missing (a failed compile removes the beams of what it compiled; mix looks for them).
  defp stale(files, sources, modules, mtime) do
    pending = Process.get(@pending, %{})
    beams = MapSet.new(File.ls!(Mix.Project.compile_path()))
    missing = for {:module, m, _, srcs, _, _} <- modules, "#{m}.beam" not in beams, src <- srcs, into: MapSet.new(), do: src

    for {file, {size, m}} <- files,
        built = Map.get_lazy(pending, file, fn -> elem(sources[file], 3) end),
        file in missing or
          ((size != elem(sources[file], 2) or m >= mtime or Map.has_key?(pending, file)) and BeamLive.Sources.digest(file) != built),
        do: file
  end

  # Plain modules only (a protocol or an implementation needs consolidating), and no other
  # source refers to them at compile time (its code would be built from theirs).
  defp alone(stale, modules, sources) do
    defined = modules_of(stale, modules)
    others = for {file, s} <- sources, file not in stale, do: s

    cond do
      Enum.any?(modules, &(elem(&1, 1) in defined and elem(&1, 2) != :module)) -> :mix
      Enum.any?(others, &Enum.any?(elem(&1, 4) ++ elem(&1, 5), fn m -> m in defined end)) -> :mix
      true -> :ok
    end
  end

  defp modules_of(files, modules), do: for({:module, m, _, srcs, _, _} <- modules, Enum.any?(srcs, &(&1 in files)), do: m)

  defp build(stale, modules) do
    digests = Map.new(stale, &{&1, BeamLive.Sources.digest(&1)})
    result = compile_to_path(stale)
    # Whatever came of it, mix is shown these files before it runs again.
    Process.put(@pending, Map.merge(Process.get(@pending, %{}), digests))

    case result do
      # A module added or removed changes the .app: that is mix's.
      {:ok, built, warnings} ->
        if Enum.sort(built) == Enum.sort(modules_of(stale, modules)), do: {:ok, Enum.map(warnings, &warning/1)}

      # Mix compiles them again and reports the errors as it always does.
      {:error, _, _} ->
        nil
    end
  end

  defp compile_to_path(files) do
    options = Keyword.take(Mix.Project.config()[:elixirc_options] || [], Code.available_compiler_options())
    previous = Code.compiler_options([{:ignore_module_conflict, true} | options])

    try do
      Kernel.ParallelCompiler.compile_to_path(files, Mix.Project.compile_path())
    after
      Code.compiler_options(previous)
    end
  end

  defp warning({file, position, message}), do: %{file: file, severity: :warning, message: message, position: position}

  @doc """
  Mix records what was compiled here. Mix reads a source once to compile it and again for its
  digest: one saved meanwhile (the editor is in use while this runs) may be recorded with
  content its beam was not built from. Such a source is compiled again at the next compile.
  """
  def settle(mix) do
    before = Map.new(BeamLive.Sources.files(), &{&1, BeamLive.Sources.digest(&1)})
    mix.()
    moved = for {f, d} <- before, BeamLive.Sources.digest(f) != d, into: %{}, do: {f, :unknown}
    Process.put(@pending, Map.merge(Process.get(@pending, %{}), moved))
  end

  @doc "Before mix runs: it sees again each source compiled here, then forgets them."
  def before_mix do
    pending = Process.delete(@pending) || %{}

    with true <- pending != %{},
         {:ok, manifest, mtime, _modules, sources} <- manifest() do
      recorded = fn f -> sources[f] && elem(sources[f], 3) end
      back = for {f, _} <- pending, BeamLive.Sources.digest(f) == recorded.(f), do: f
      # Mix would not look at these (their content is the manifest's): they are built again here.
      if back != [], do: compile_to_path(back)
      # Mix looks only at sources newer than its manifest, in whole seconds.
      newest = Enum.max(for(f <- Map.keys(pending), is_integer(m = mtime(f)), do: m), fn -> 0 end)
      if newest >= mtime, do: File.touch!(manifest, newest - 1)
    end

    :ok
  end
end

defmodule BeamLive.SourceFacts do
  # What the compiled beam does not say about where things are: the @vsn line and the items of
  # `children = [...]`, read from the parsed source (never from regular expressions).
  # A warm VM asks again at every save: a file is read again only when its size or mtime moved,
  # or when it was read in the second it was last written (mtimes are whole seconds, and a
  # second write in that second would not move them); parsed again only when its content did.
  def collect(files) do
    cwd = File.cwd!()

    for {file, stat} <- files, facts = cached_facts(file, stat), facts != [] do
      %{file: Path.absname(file, cwd), modules: facts}
    end
  end

  defp cached_facts(file, stat) do
    case Process.get({__MODULE__, file}) do
      {^stat, read_at, _digest, facts} when elem(stat, 1) < read_at ->
        facts

      cached ->
        read_at = System.os_time(:second)

        case File.read(file) do
          {:ok, text} ->
            digest = :erlang.md5(text)
            facts = if match?({_, _, ^digest, _}, cached), do: elem(cached, 3), else: file_facts(file, text)
            Process.put({__MODULE__, file}, {stat, read_at, digest, facts})
            facts

          _ ->
            []
        end
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

  # "compile" compiles; "settle" lets mix record what the last compiles built. Each is answered
  # with one result line. When the editor goes, mix records them too.
  def serve do
    case IO.gets("") do
      line when is_binary(line) ->
        case String.trim(line) do
          "compile" -> reply(fn -> BeamLive.MixCompile.run(true) end)
          "settle" -> reply(&BeamLive.MixCompile.settle/0)
          _ -> :ok
        end

        serve()

      _ ->
        BeamLive.MixCompile.settle()
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
