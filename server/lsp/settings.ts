// The beamLive.* settings, pulled from the client when it supports workspace/configuration.
import { Connection } from 'vscode-languageserver/node';
import { DEFAULT_SETTINGS, ServerSettings } from '../protocol';

function merge<T>(base: T, over: unknown): T {
  if (over === null || typeof over !== 'object' || Array.isArray(over)) return (over as T) ?? base;
  const out = { ...(base as object) } as Record<string, unknown>;
  for (const [k, v] of Object.entries(over as object)) {
    if (v === undefined || v === null) continue;
    const b = (base as Record<string, unknown>)[k];
    out[k] = b && typeof b === 'object' && !Array.isArray(b) ? merge(b, v) : v;
  }
  return out as T;
}

export class Settings {
  private current: ServerSettings = DEFAULT_SETTINGS;

  constructor(
    /** Asked only when it can answer workspace/configuration. */
    private readonly conn: Connection | undefined,
    private readonly canPull: boolean,
  ) {}

  get value(): ServerSettings {
    return this.current;
  }

  /** initializationOptions first; the client's configuration wins once it can be asked. */
  seed(init: unknown): void {
    this.current = merge(DEFAULT_SETTINGS, init);
  }

  /**
   * On didChangeConfiguration: pulled from the client when it can answer workspace/configuration,
   * else taken from the notification itself (`{ beamLive: {...} }`, as editors without pull send it).
   */
  async refresh(pushed?: unknown): Promise<ServerSettings> {
    if (!this.canPull || !this.conn) {
      const section = (pushed as { beamLive?: unknown } | null | undefined)?.beamLive;
      if (section && typeof section === 'object') this.current = merge(this.current, section);
      return this.current;
    }
    try {
      const cfg = await this.conn.workspace.getConfiguration('beamLive');
      this.current = merge(DEFAULT_SETTINGS, cfg);
    } catch {
      // The client went away or does not answer: keep what we have.
    }
    return this.current;
  }
}
