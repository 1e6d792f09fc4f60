// What the end-to-end tests share: the demo binary on a fresh SQLite file, headless
// Chromium, the dev outbox, TOTP codes as an authenticator app computes them.
//
// Needs the demo binary (cargo build -p reverify-demo; REVERIFY_DEMO_BIN to use another)
// and /usr/bin/chromium (CHROMIUM to use another). The React page's bundle is embedded in
// the binary: no build step.
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium } from '../test/harness/chromium.js';
export const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = process.env.REVERIFY_DEMO_BIN || join(root, 'target', 'debug', 'reverify-demo');
export const SHOTS = join(root, 'target', 'e2e-screenshots');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Waits until `url` answers (below 500), or fails if `child` exited. */
export async function waitFor(url, child) {
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {}
    if (i > 300) throw new Error(`${url} did not answer`);
    await sleep(100);
  }
}

/**
 * Starts the auth server binary (`cargo build -p reverify-server --bin reverify`;
 * REVERIFY_BIN to use another) with the OpenID provider on, at `http://localhost:PORT`, on a
 * fresh SQLite file, with `toml` appended to its configuration (`[[oidc.clients]]` …) and
 * `users` created by its CLI. `cli(...args)` runs the CLI on the same configuration;
 * `stop()` ends the server and removes the files. The variables of the SDKs (`REVERIFY_*`)
 * are not passed on.
 * @param {{ name: string, toml?: string, users?: { email: string, password: string }[] }} options
 */
export async function startProvider({ name, toml = '', users = [] }) {
  const bin = process.env.REVERIFY_BIN || join(root, 'target', 'debug', 'reverify');
  const work = mkdtempSync(join(tmpdir(), `reverify-${name}-`));
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const config = join(work, 'reverify.toml');
  writeFileSync(
    config,
    `[server]\nlisten = "127.0.0.1:${port}"\npublic_url = "${base}"\n` +
      `[database]\nurl = "sqlite://${join(work, 'db.sqlite')}"\n` +
      `[sessions]\ninsecure_cookies = true\n` +
      `[passwords]\nargon2_memory_kib = 1024\nargon2_iterations = 1\n` +
      `[oidc]\nenabled = true\n` +
      toml,
  );
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REVERIFY_')));
  env.REVERIFY_LOG = 'warn';
  const cli = (...args) => execFileSync(bin, ['--config', config, ...args], { env, encoding: 'utf8' });
  for (const { email, password } of users)
    execFileSync(bin, ['--config', config, 'users', 'create', '--email', email], {
      env: { ...env, REVERIFY_NEW_PASSWORD: password },
    });
  const server = spawn(bin, ['--config', config, 'serve'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(`http://127.0.0.1:${port}/healthz`, server);
  return {
    base,
    port,
    work,
    env,
    cli,
    stop() {
      server.kill();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * Starts the demo on a free port with a fresh SQLite file and `env` added, and Chromium
 * with a fresh profile. `stop()` ends both and removes the files.
 * @param {Record<string, string>} env
 */
export async function startDemo(env) {
  const work = mkdtempSync(join(tmpdir(), 'reverify-e2e-'));
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const server = spawn(BIN, [], {
    env: {
      ...process.env,
      PORT: String(port),
      REVERIFY_DATABASE_URL: `sqlite://${join(work, 'demo.sqlite')}`,
      REVERIFY_LOG: 'warn',
      REVERIFY_PASSWORDS_ARGON2_MEMORY_KIB: '1024',
      REVERIFY_PASSWORDS_ARGON2_ITERATIONS: '1',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/api/ping`)).ok) break;
    } catch {}
    if (i > 300) throw new Error('the demo did not start');
    await sleep(100);
  }
  const context = await launchChromium(join(work, 'profile'), {
    args: ['--host-resolver-rules=MAP localhost 127.0.0.1'],
  });
  const page = context.pages()[0] || (await context.newPage());
  const stop = async () => {
    await context.close().catch(() => {});
    server.kill();
    rmSync(work, { recursive: true, force: true });
  };
  return { base, context, page, stop };
}

/** The latest code the dev outbox holds for `email`. */
export async function codeFromOutbox(base, email) {
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${base}/auth/v1/dev/outbox?email=${encodeURIComponent(email)}`);
    const m = (await r.json()).messages?.[0];
    if (m?.code) return m.code;
    await sleep(50);
  }
  throw new Error(`no code for ${email}`);
}

/** RFC 6238, as an authenticator app computes it. */
export function totp(base32, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(msg).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
