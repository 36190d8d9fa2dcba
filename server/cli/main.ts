// bin/beam-live: the engine from a terminal. Exit status 0 on success, 2 when the node cannot
// be reached or the arguments are wrong (1 is kept for an upgrade that ran and failed).
import { CompileError } from '../compile/compile';
import { ProjectError } from '../compile/project';
import { ReleaseError } from '../release/releaseError';
import { NodeError } from '../runtime/errors';
import { UsageError } from './args';
import { appupCommand } from './appup';
import { configCommand } from './config';
import { beamCommand } from './beam';
import { processesCommand } from './processes';
import { relupCommand } from './relup';
import { rehearseCommand } from './rehearse';
import { stateCommand } from './state';
import { statusCommand } from './status';
import { planCommand, rollbackCommand, upgradeCommand } from './upgrade';
import { watchCommand } from './watch';

const USAGE = `Usage: beam-live <command> [options]

Commands:
  status     --node NAME [--cookie-file F] [--name-type sname|name] [--json]
             node, OTP release, applications with vsn, process count
  status     --node NAME --cluster [--project DIR] [--json]
             the same for every node the attached one sees, and the project's modules that run
             another MD5 there than on it (version skew: exit 1)
  processes  --node NAME [--cookie-file F] [--json] [--limit N] [--app APP]...
             each running application's supervision tree, and project processes outside them
  beam       FILE... [--json]
             module, MD5, vsn, exports and behaviours of .beam files
  state      --node NAME NAME|PID [--syntax elixir|erlang] [--max-bytes N] [--json]
             one process's state, printed on the node (sys:get_state, size-limited)
  plan       --node NAME --project DIR [--mode release|all] [--json]
             compile, diff and plan the upgrade; changes nothing on the node
  upgrade    --node NAME --project DIR [--mode release|all] [--on-failure rollback|resume]
             [--parallel] [--suspend-timeout MS] [--code-change-timeout MS] [--json]
             [--cluster | --nodes A@H,B@H] [--cluster-order parallel|serial] [--allow-skew]
             compile, then suspend/load/code_change/resume in the node, transactionally;
             --cluster: on every node the attached one sees, prepared on all before any
             commits, and rolled back everywhere if one fails
             exit 0: upgraded; 1: failed after a load (rolled back or resumed); 2: nothing changed
  watch      --node NAME --project DIR [upgrade options]
             upgrade on every save, one line per upgrade
  rollback   --node NAME [--restore-snapshot] [--json]
             undo the last upgrade as a downgrade: code_change {down, Vsn}, old code, resume;
             refused where no down clause matches a state the upgrade changed, unless
             --restore-snapshot puts back the state saved at the upgrade
  appup      --node NAME --project DIR [--write [--force]] [--json]
             the .appup from the running code to this build (printed; --write puts it in
             priv/, src/ or apps/APP/, where BEAM Live's upgrades follow it)
  appup      --from REF|RELEASE --project DIR [--write [--force]] [--json]
             the same from an older build, no node: a git tag, commit or branch (built in a
             temporary folder), or an older release (its folder or tarball)
  relup      --from OLD_RELEASE --to NEW_RELEASE [--json]
             the relup between two built releases (mix release, rebar3 release: folders or
             .tar.gz), made by systools:make_relup; the .appups it needs are generated into
             NEW's lib/APP-VSN/ebin (a NEW tarball is packed again with them and the relup)
  config     --node NAME --project DIR [--apply] [--json]
             the project's configuration (config/config.exs read as a release reads it, or
             config/sys.config) against the node's application env; --apply sets it and calls
             each application's config_change/3, putting the env back where it fails
  rehearse   --from OLD_RELEASE --to NEW_RELEASE [--warmup CODE|FILE.exs|FILE.erl-expr] [--json]
             boots OLD on a throw-away loopback node, installs NEW with release_handler and
             then OLD again; reports each process's code_change beside BEAM Live's plan
             (exit 0 only if both steps worked, nothing died or stayed suspended, and they agree)

The cookie is read from --cookie-file (default ~/.erlang.cookie); it is never printed.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  status: statusCommand,
  processes: processesCommand,
  beam: beamCommand,
  state: stateCommand,
  plan: planCommand,
  upgrade: upgradeCommand,
  watch: watchCommand,
  rollback: rollbackCommand,
  appup: appupCommand,
  relup: relupCommand,
  config: configCommand,
  rehearse: rehearseCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    console.error(`beam-live: unknown command "${cmd}".\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`beam-live ${cmd}: ${e.message}. See beam-live --help.`);
      return 2;
    }
    if (e instanceof NodeError || e instanceof ProjectError || e instanceof CompileError || e instanceof ReleaseError) {
      console.error(`beam-live ${cmd}: ${e.message}`);
      return 2;
    }
    console.error(`beam-live ${cmd}: unexpected error: ${(e as Error).stack ?? e}`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
