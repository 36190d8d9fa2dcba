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
