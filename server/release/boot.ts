// How a throw-away node boots a built release: the way its own start script does, except for
// the cookie. A mix release's script passes --cookie and relx's vm.args carries -setcookie;
// both end up in the VM's argv, where any user of the machine reads them. Here the cookie is
// a random one in $HOME/.erlang.cookie of the throw-away folder, which erl reads when no
// -setcookie is given (auth's default).
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReleaseError } from './releaseError';
import type { ReleaseDir } from './relup';

export interface Booted {
  vm: ChildProcess;
  name: string;
  cookieFile: string;
}

/** Boots the release copied into `root` (its start script's way), named on 127.0.0.1 with a fresh cookie. */
export function bootRelease(root: string, rel: ReleaseDir): Booted {
  const name = `rehearse_${randomBytes(4).toString('hex')}@127.0.0.1`;
  const cookieFile = join(root, '.erlang.cookie');
  writeFileSync(cookieFile, randomBytes(24).toString('hex'), { mode: 0o400 });
  const vsnDir = join(root, 'releases', rel.vsn);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: root, ERL_EPMD_ADDRESS: '127.0.0.1' };
  delete env.RELEASE_COOKIE;
  delete env.RELX_COOKIE;
  const vm = rel.tool === 'mix' ? bootMix(root, rel, vsnDir, name, env) : bootRelx(root, rel, vsnDir, name, env);
  return { vm, name, cookieFile };
}

/** bin/NAME start of a mix release, without --cookie: the same elixir script, boot file, config and vm.args. */
function bootMix(root: string, rel: ReleaseDir, vsnDir: string, name: string, env: NodeJS.ProcessEnv): ChildProcess {
  const tmp = join(root, 'tmp');
  let sys = join(vsnDir, 'sys');
  // A release with config/runtime.exs rewrites its sys.config at boot: it boots from a copy, as its script does.
  if (readFileSync(`${sys}.config`, 'utf8').includes('RUNTIME_CONFIG=true')) {
    mkdirSync(tmp, { recursive: true });
    copyFileSync(`${sys}.config`, join(tmp, `${rel.name}-${rel.vsn}-rehearse.runtime.config`));
    sys = join(tmp, `${rel.name}-${rel.vsn}-rehearse.runtime`);
  }
  const vmArgs = join(vsnDir, 'vm.args');
  return spawn(
    join(vsnDir, 'elixir'),
    ['--no-halt', '--name', name, '--erl', '-mode embedded', '--erl-config', sys, '--boot', join(vsnDir, 'start'), '--boot-var', 'RELEASE_LIB', join(root, 'lib'), '--vm-args', vmArgs],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...env,
        RELEASE_ROOT: root,
        RELEASE_NAME: rel.name,
        RELEASE_VSN: rel.vsn,
        RELEASE_COMMAND: 'start',
        RELEASE_PROG: rel.name,
        RELEASE_NODE: name,
        RELEASE_DISTRIBUTION: 'name',
        RELEASE_MODE: 'embedded',
        RELEASE_TMP: tmp,
        RELEASE_VM_ARGS: vmArgs,
        RELEASE_SYS_CONFIG: sys,
        RELEASE_BOOT_SCRIPT: 'start',
        ELIXIR_ERL_OPTIONS: '-kernel inet_dist_use_interface {127,0,0,1}',
      },
    },
  );
}

/** bin/NAME foreground of a relx release, its vm.args rewritten with our name and without -setcookie. */
function bootRelx(root: string, rel: ReleaseDir, vsnDir: string, name: string, env: NodeJS.ProcessEnv): ChildProcess {
  const bin = join(root, 'bin', rel.name);
  if (!existsSync(bin)) throw new ReleaseError(`${rel.root} has no bin/${rel.name}: give the folder rebar3 release or mix release built.`);
  const given = ['vm.args', 'vm.args.src'].map((f) => join(vsnDir, f)).find((f) => existsSync(f));
  const kept = given ? readFileSync(given, 'utf8').split('\n').filter((l) => !/^\s*-(setcookie|s?name)\b/.test(l)) : [];
  const vmArgs = join(root, 'rehearse.vm.args');
  writeFileSync(vmArgs, [...kept, `-name ${name}`, '-kernel inet_dist_use_interface {127,0,0,1}', ''].join('\n'));
  return spawn(bin, ['foreground'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...env, VMARGS_PATH: vmArgs } });
}
