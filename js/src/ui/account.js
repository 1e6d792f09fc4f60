import { withReverification, REVERIFICATION_CANCELLED } from '../index.js';
import { Base, canPasskey, link, identity, button } from './base.js';
import { t, esc, errText, fill } from './strings.js';

// Actions that ask "are you sure?" first, with their question.
const ASK = {
  'totp-remove': 'totpRemoveQ',
  'backup-regenerate': 'regenQ',
  'passkey-delete': 'pkDelQ',
  'device-sign-out': 'signOutDeviceQ',
  'devices-sign-out': 'signOutAllQ',
  'account-delete': 'deleteQ',
};

/** "Chrome on macOS" (plain text) from a user agent. */
export function deviceName(ua = '') {
  const b = [
    ['Edge', /Edg\//],
    ['Opera', /OPR\//],
    ['Firefox', /Firefox\//],
    ['Chrome', /Chrome\//],
    ['Safari', /Safari\//],
  ].find(([, r]) => r.test(ua))?.[0];
  const o = [
    ['iOS', /iPhone|iPad/],
    ['Android', /Android/],
    ['ChromeOS', /CrOS/],
    ['macOS', /Mac OS X/],
    ['Windows', /Windows/],
    ['Linux', /Linux/],
  ].find(([, r]) => r.test(ua))?.[0];
  return b && o ? fill('browserOn', { browser: b, os: o }) : b || o || fill('unknownDevice');
}

/** "5 minutes ago" (plain text) for a unix time in seconds. */
function ago(secs) {
  const d = Math.round(secs - Date.now() / 1000);
  if (!secs || d > -60) return fill('justNow');
  const [n, unit] = d > -3600 ? [d / 60, 'minute'] : d > -86400 ? [d / 3600, 'hour'] : [d / 86400, 'day'];
  try {
    return new Intl.RelativeTimeFormat(document.documentElement.lang || undefined).format(Math.round(n), unit);
  } catch {
    return new Date(secs * 1000).toLocaleString();
  }
}

/**
 * <reverify-account>: the signed-in user's account (from `client.me()`): change the password,
 * set up or remove an authenticator app (QR code, key, confirmation code, backup codes shown
 * once), new backup codes, add / rename / delete passkeys, the devices signed in (browser,
 * IP, last active, this device) with sign-out of one or all others, and deleting the
 * account. Every change goes through `withReverification`, so a stale session gets the
 * verification modal first. Follows the client's session (signed out: it says so).
 * Events: `reverify:account-deleted`.
 */
export class Account extends Base {
  #me = null;
  #pks = null;
  #sessions = null;
  #enroll = null;
  #codes = null;
  #ask = null;
  #ren = null;
  #loadErr = '';
  #out = false;

  reset() {
    this.#me = this.#enroll = this.#codes = this.#ask = this.#ren = null;
    this.#loadErr = '';
    this.#out = false;
    this.invalidate();
    this.clear();
    this.render();
    if (this.client.user !== null) this.#load();
  }

  sessionChanged({ user } = {}) {
    if (user?.id != this.#me?.user?.id) this.reset();
  }

  async #load(focus) {
    const c = this.client;
    try {
      const [me, pks, sessions] = await Promise.all([
        c.me(),
        canPasskey() ? c.listPasskeys?.().catch(() => null) : null,
        c.listSessions?.().catch(() => null),
      ]);
      this.#me = me;
      this.#pks = me.factors?.passkeys != null ? pks?.passkeys || null : null;
      this.#sessions = sessions?.sessions || null;
      this.#loadErr = '';
    } catch (e) {
      this.#me = null;
      // Signed out, found out by the server (the client may not have told us yet).
      this.#out = e?.code == 'signed_out' || e?.status == 401;
      this.#loadErr = this.#out ? '' : errText(e);
    }
    this.render(focus);
    if (this.#loadErr) this.note(this.#loadErr);
  }

  #askBtn(a, label, p, cls = 'b2', name) {
    const id = p ? ` data-id="${esc(p.id)}"` : '';
    const q = this.uid + 'q';
    return this.#ask == a + (p?.id ?? '')
      ? `<div class="ask"><p id="${q}">${t(ASK[a], { name: p?.name, device: name })}</p><div class="row">${button(a, t('yes'), 'b dng', `${id} data-sure="1" aria-describedby="${q}"`)}${button('no', t('no'), 'b2')}</div></div>`
      : `<div>${button(a, label, cls + ' dng', id)}</div>`;
  }

  view() {
    const [me, u, enroll, codes, pks, sessions] = [
      this.#me,
      this.uid,
      this.#enroll,
      this.#codes,
      this.#pks,
      this.#sessions,
    ];
    if (!me) {
      const out = this.client?.user === null || this.#out;
      return {
        title: t('account'),
        lead: this.#loadErr ? '' : out ? t('signedOutHere') : t('loading'),
        body: '',
        step: out ? 'signed-out' : 'loading',
      };
    }
    const f = me.factors || {};
    const on = f.totp?.status == 'confirmed';
    const sec = (k, title, body, lead = '') =>
      `<section aria-labelledby="${u + k}"><h3 id="${u + k}" tabindex="-1">${t(title)}</h3>${lead ? `<p class="mu">${t(lead)}</p>` : ''}${body}</section>`;
    const btn = (a, label, cls = 'b2') => button(a, t(label), cls);
    const others = (sessions || []).filter((s) => !s.current);
    return {
      title: t('account'),
      id: identity(me.user?.email),
      step: 'account',
      body:
        sec(
          'p',
          'password',
          this.form(
            this.field('new_password', t('newPassword'), 'type="password" required autocomplete="new-password"') +
              `<label class="check"><input type="checkbox" name="sign_out_other_sessions" checked><span>${t('signOutOthers')}</span></label>`,
            t('changePw'),
            'password-change',
            'b2',
          ),
        ) +
        sec(
          't',
          'twoStep',

          enroll
            ? `<p>${t('totpScan')}</p><img class="qr" data-testid="totp-qr" alt="${t('qr')}" src="data:image/svg+xml,${encodeURIComponent(
                enroll.qr_svg,
              )}"><p>${t('secret')} <code data-testid="totp-secret">${esc(enroll.secret?.replace(/(.{4})(?=.)/g, '$1 '))}</code></p>` +
                this.form(this.code('totp'), t('confirm'), 'totp-confirm') +
                `<div>${btn('totp-abort', 'cancel')}</div>`
            : on
              ? `<p><strong>${t('totpTitle')}</strong> — ${t('totpOn')}</p>` + this.#askBtn('totp-remove', t('remove'))
              : `<p>${t('totpOff')}</p><div>${btn('totp-start', 'setUp', 'b')}</div>`,
        ) +
        (codes
          ? sec(
              'c',
              'codesTitle',
              `<p>${t('codesSave')}</p><ul class="codes" data-testid="backup-codes" tabindex="-1">${codes
                .map((c) => `<li><code>${esc(c)}</code></li>`)
                .join('')}</ul><div class="row">${btn('codes-copy', 'copy')}${btn('codes-done', 'saved', 'b')}</div>`,
            )
          : on
            ? sec(
                'c',
                'codesTitle',
                `<p>${t('codesLeft', { n: f.backup_codes_remaining ?? 0 })}</p>` +
                  this.#askBtn('backup-regenerate', t('regen')),
              )
            : '') +
        (pks
          ? sec(
              'k',
              'pkTitle',
              (pks.length
                ? `<ul class="list" part="list">${pks
                    .map(
                      (p) =>
                        `<li class="item" part="item">${
                          this.#ren == p.id
                            ? this.form(
                                this.field('passkey_rename', t('pkName'), `required value="${esc(p.name)}"`),
                                t('save'),
                                'passkey-rename-save',
                              ) + btn('no', 'cancel')
                            : `<div><span>${esc(p.name)}</span><span class="mu">${p.last_used_at ? t('pkUsed', { when: ago(p.last_used_at) }) : t('pkNeverUsed')}</span></div><div class="row">${link(`data-action="passkey-rename" data-id="${esc(p.id)}"`, t('rename'))}${this.#askBtn('passkey-delete', t('del'), p, 'l')}</div>`
                        }</li>`,
                    )
                    .join('')}</ul>`
                : `<p class="mu">${t('pkNone')}</p>`) +
                this.form(
                  this.field('passkey_name', t('pkNameOpt'), 'autocomplete="off"'),
                  t('pkAdd'),
                  'passkey-add',
                  'b2',
                ),
              'pkLead',
            )
          : '') +
        (sessions
          ? sec(
              'd',
              'devices',
              `<ul class="list" part="list" data-testid="devices">${sessions
                .map((s) => {
                  const name = deviceName(s.user_agent);
                  return `<li class="item" part="item"><div><strong>${esc(name)}</strong><span class="mu">${s.ip ? esc(s.ip) + ' · ' : ''}${t('activeWhen', { when: ago(s.current ? 0 : s.last_active_at) })}</span>${s.current ? `<span class="tag">${t('thisDevice')}</span>` : ''}</div>${s.current ? '' : this.#askBtn('device-sign-out', t('signOutDevice'), { id: s.id }, 'b2', name)}</li>`;
                })
                .join('')}</ul>` + (others.length > 1 ? this.#askBtn('devices-sign-out', t('signOutAll')) : ''),
              'devicesLead',
            )
          : '') +
        sec('x', 'danger', this.#askBtn('account-delete', t('deleteBtn')), 'dangerLead'),
    };
  }

  act(a, b, form) {
    const c = this.client;
    const u = this.uid;
    const id = b.dataset.id;
    const v = (n) => form.elements[n].value.trim();
    // Focus after the change: the heading of the section it happened in.
    const sec = '#' + b.closest('section')?.firstElementChild.id;
    const sens = (f, ok, focus = sec) =>
      this.run(
        b,
        () => withReverification(f, { client: c })(),
        async (r) => {
          await ok?.(r);
          if (this.isConnected && c.user !== null) await this.#load(focus);
        },
      );
    if (ASK[a] && !b.dataset.sure) {
      this.#ask = a + (id ?? '');
      return this.render('[data-sure]');
    }
    this.#ask = null;
    if (a == 'no') {
      this.#ren = null;
      this.render(sec);
    } else if (a == 'password-change')
      sens(
        () =>
          c.changePassword(form.elements.new_password.value, {
            signOutOtherSessions: form.elements.sign_out_other_sessions.checked,
          }),
        () => this.ok(t('pwChanged')),
      );
    else if (a == 'totp-start')
      sens(
        () => c.startTotp(),
        (r) => (this.#enroll = r),
        '[name=code]',
      );
    else if (a == 'totp-confirm')
      sens(
        () => c.confirmTotp(v('code')),
        (r) => {
          this.#enroll = null;
          this.#codes = r.backup_codes;
        },
        '.codes',
      );
    else if (a == 'totp-abort') {
      this.#enroll = null;
      this.render(sec);
    } else if (a == 'totp-remove')
      sens(
        () => c.removeTotp(),
        () => this.ok(t('totpRemoved')),
        `#${u}t`,
      );
    else if (a == 'backup-regenerate')
      sens(
        () => c.regenerateBackupCodes(),
        (r) => (this.#codes = r.backup_codes),
        '.codes',
      );
    else if (a == 'codes-copy')
      navigator.clipboard?.writeText(this.#codes.join('\n')).then(() => {
        this.ok(t('copied'));
        b.focus();
      });
    else if (a == 'codes-done') {
      this.#codes = null;
      this.render(`#${u}t`);
    } else if (a == 'passkey-add')
      sens(
        () => c.registerPasskey(v('passkey_name') || undefined),
        () => this.ok(t('pkAdded')),
      );
    else if (a == 'passkey-rename') {
      this.#ren = id;
      this.render('[name=passkey_rename]');
    } else if (a == 'passkey-rename-save')
      sens(
        () => c.renamePasskey(this.#ren, v('passkey_rename')),
        () => (this.#ren = null),
      );
    else if (a == 'passkey-delete') sens(() => c.deletePasskey(id));
    else if (a == 'device-sign-out') {
      const name = deviceName(this.#sessions?.find((s) => s.id == id)?.user_agent);
      sens(
        () => c.revokeSession(id),
        () => this.ok(t('deviceSignedOut', { device: name })),
      );
    } else if (a == 'devices-sign-out')
      sens(
        async () => {
          for (const s of this.#sessions.filter((s) => !s.current))
            await c.revokeSession(s.id).catch((e) => {
              if (e?.code != 'not_found') throw e;
            });
        },
        () => this.ok(t('allSignedOut')),
      );
    else if (a == 'account-delete')
      sens(
        () => c.deleteAccount(),
        () => this.emit('reverify:account-deleted'),
      );
  }

  failed(e) {
    // Cancelling the verification modal is not an error: the button gets focus back.
    return e?.code == REVERIFICATION_CANCELLED;
  }
}
