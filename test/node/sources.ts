// Sources the tests write into a copy of the sample app.

export const COUNTER = 'lib/sample_app/counter.ex';

// Counter at vsn "2": a new field, and a code_change that records the OldVsn it was given.
export const COUNTER_V2 = `defmodule SampleApp.Counter do
  use GenServer
  @vsn "2"
  defstruct count: 0, label: "new", from_vsn: nil
  def start_link(_), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)
  def increment, do: GenServer.call(__MODULE__, :increment)
  def value, do: GenServer.call(__MODULE__, :value)
  @impl true
  def init(_), do: {:ok, %__MODULE__{}}
  @impl true
  def handle_call(:increment, _from, state), do: {:reply, state.count + 1, %{state | count: state.count + 1}}
  def handle_call(:value, _from, state), do: {:reply, state.count, state}
  @impl true
  def code_change(old_vsn, %{__struct__: __MODULE__, count: c}, _extra),
    do: {:ok, %__MODULE__{count: c, label: "upgraded", from_vsn: old_vsn}}
end
`;


/** Worker with a code_change that marks each state upgraded. */
export function workerWithCodeChange(source: string): string {
  return source.replace(
    '  @impl true\n  def handle_call',
    '  @impl true\n  def code_change(_old, state, _extra), do: {:ok, Map.put(state, :upgraded, true)}\n\n  @impl true\n  def handle_call',
  );
}

/**
 * A GenServer (Tally) and twenty DynamicSupervisor workers (TallyWorker) whose code_change may
 * call Tally, and a permanent acceptor Task looping with local calls: the shapes on which an
 * upgrade's blocks, its failure path and its kills show.
 */
export const TALLY = 'lib/sample_app/tally.ex';
export const TALLY_WORKER = 'lib/sample_app/tally_worker.ex';
export const ACCEPTOR = 'lib/sample_app/acceptor.ex';
export const TALLY_WORKERS = 20;

export const tallySource = (vsn: string, codeChange = '') => `defmodule SampleApp.Tally do
  use GenServer
  @vsn "${vsn}"
  def start_link(_), do: GenServer.start_link(__MODULE__, 0, name: __MODULE__)
  def get, do: GenServer.call(__MODULE__, :get)
  def bump, do: GenServer.call(__MODULE__, :bump)
  def vsn, do: "${vsn}"
  @impl true
  def init(n), do: {:ok, n}
  @impl true
  def handle_call(:get, _from, n), do: {:reply, n, n}
  def handle_call(:bump, _from, n), do: {:reply, n + 1, n + 1}
${codeChange}end
`;

export const tallyWorkerSource = (vsn: string, codeChange = '') => `defmodule SampleApp.TallyWorker do
  use GenServer
  @vsn "${vsn}"
  def start_link(id), do: GenServer.start_link(__MODULE__, id)
  def vsn, do: "${vsn}"
  @impl true
  def init(id), do: {:ok, %{id: id, seen: nil}}
  @impl true
  def handle_call(:state, _from, s), do: {:reply, s, s}
${codeChange}end
`;

/** A Task looping with local calls, answering {:version, from}: an upgrade leaves it on the old code. */
function loopingTask(module: string, use: string, register: string, version: number): string {
  return `defmodule ${module} do
  use ${use}
  def start_link(_), do: Task.start_link(fn -> ${register}loop() end)
  defp version, do: ${version}
  defp loop do
    receive do
      {:version, from} ->
        send(from, {:version, version()})
        loop()
    end
  end
end
`;
}

/** An acceptor: a permanent Task, registered as :sample_acceptor. */
export const acceptorSource = (version: number) => loopingTask('SampleApp.Acceptor', 'Task, restart: :permanent', 'Process.register(self(), :sample_acceptor); ', version);

/** The sample app's application with Tally, its workers and the acceptor added. */
export function withTally(application: string): string {
  return application
    .replace('SampleApp.Store,', `SampleApp.Store,\n      SampleApp.Tally,\n      {DynamicSupervisor, name: SampleApp.TallySup, strategy: :one_for_one},\n      SampleApp.Acceptor,`)
    .replace(
      '      SampleApp.Looper.start()',
      `      for id <- 1..${TALLY_WORKERS}, do: {:ok, _} = DynamicSupervisor.start_child(SampleApp.TallySup, {SampleApp.TallyWorker, id})\n      SampleApp.Looper.start()`,
    );
}

/**
 * The shapes of real projects: a Registry whose GenServers are registered by via-name under a
 * DynamicSupervisor (started with DynamicSupervisor.start_link/1, Elixir's default callback), a
 * temporary metrics Task looping with local calls, and a pool supervisor a test starts from the
 * "shell", outside every tree.
 */
export const NAMED = 'lib/sample_app/named.ex';
export const METRICS = 'lib/sample_app/metrics.ex';
export const POOL = 'lib/sample_app/pool.ex';

export const namedSource = (vsn: string) => `defmodule SampleApp.Named do
  use GenServer
  @vsn "${vsn}"
  def start_link(who), do: GenServer.start_link(__MODULE__, who, name: {:via, Registry, {SampleApp.Registry, {__MODULE__, who}}})
  @impl true
  def init(who), do: {:ok, %{who: who}}
  def vsn, do: "${vsn}"
end
`;

/** A metrics Task: temporary (Task's default), unnamed. */
export const metricsSource = (version: number) => loopingTask('SampleApp.Metrics', 'Task', '', version);

export const POOL_SOURCE = `defmodule SampleApp.Pool do
  use Supervisor
  def start_link(n), do: Supervisor.start_link(__MODULE__, n)
  @impl true
  def init(n), do: Supervisor.init(for(i <- 1..n, do: Supervisor.child_spec({SampleApp.PoolWorker, i}, id: i)), strategy: :one_for_one)
end

defmodule SampleApp.PoolWorker do
  use GenServer
  def start_link(i), do: GenServer.start_link(__MODULE__, i)
  @impl true
  def init(i), do: {:ok, i}
end
`;

/** The sample app's application with the Registry, its named servers and the metrics Task. */
export function withNamed(application: string): string {
  return application
    .replace(
      'SampleApp.Store,',
      `SampleApp.Store,\n      {Registry, keys: :unique, name: SampleApp.Registry},\n      {DynamicSupervisor, name: SampleApp.NamedSup},\n      SampleApp.Metrics,`,
    )
    .replace(
      '      SampleApp.Looper.start()',
      `      for who <- ["alice", "bob"], do: {:ok, _} = DynamicSupervisor.start_child(SampleApp.NamedSup, {SampleApp.Named, who})\n      SampleApp.Looper.start()`,
    );
}
