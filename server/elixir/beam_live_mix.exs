# Compiles a mix project in this VM and reports the result to BEAM Live as one line:
#   BEAM_LIVE_RESULT <base64 of term_to_binary(map)>
# Mix's own output goes to stderr, so that stdout carries only that line.
# Run from the project directory: elixir beam_live_mix.exs
defmodule BeamLive.MixCompile do
  def run do
    Mix.start()
    Mix.shell(Mix.Shell.Quiet)
    Code.compile_file("mix.exs")
    Mix.Task.run("loadconfig")
    {status, diagnostics} = compile()

    %{
      status: status,
      diagnostics: Enum.map(diagnostics, &diagnostic/1),
      apps: apps(),
      build_path: Mix.Project.build_path(),
      consolidation_path: Mix.Project.consolidation_path()
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

result =
  try do
    BeamLive.MixCompile.run()
  rescue
    e -> %{status: :error, diagnostics: [%{file: nil, severity: :error, message: Exception.message(e), line: nil, column: nil}], apps: []}
  end

IO.puts("BEAM_LIVE_RESULT " <> Base.encode64(:erlang.term_to_binary(result)))
