import { withReverification, REVERIFICATION_CANCELLED } from '../index.js';
import { Base, canPasskey, link } from './base.js';
import { t, esc, errText } from './strings.js';

// Actions that ask "are you sure?" first, with their question.
const ASK = { 'totp-remove': 'totpRemoveQ', 'backup-regenerate': 'regenQ', 'passkey-delete': 'pkDelQ' };

/**
 * <reverify-account>: the signed-in user's factors (from `client.me()`): change the
 * password, set up / remove an authenticator app (QR code, key, confirmation code, backup
 * codes shown once), new backup codes, and add / rename / delete passkeys. Every change
 * goes through `withReverification`, so a stale session gets the verification modal first.
 */
export class Account extends Base {
  start() {
    // Follow sign-in and sign-out (not every token change: that would drop shown codes).
    if (this.sub != this.c) {
      this.off?.();
      this.sub = this.c;
      this.off = this.c.onChange?.((s) => s?.user?.id != this.me?.user?.id && this.start());
    }
    this.me = null;
    this.err = '';
    this.paint();
    this.load();
  }

  disconnectedCallback() {
    this.off?.();
    this.sub = this.off = null;
  }

  async load(focus) {
    try {
      this.me = await this.c.me();
      this.pks = null;
      if (canPasskey() && this.me.factors?.passkeys != null)
        this.pks = (await this.c.listPasskeys().catch(() => 0))?.passkeys;
    } catch (e) {
      this.err = errText(e);
    }
    this.paint(focus);
  }

  ask(a, label, p, cls = 'rv-b2') {
    const id = p ? ` data-id="${esc(p.id)}"` : '';
    const q = this.u + 'q';
    return this.cf == a + (p?.id ?? '')
      ? `<div class="rv-row rv-ask"><span id="${q}">${t(ASK[a], { name: p?.name })}</span><button type="button" class="rv-b rv-dng" data-action="${a}"${id} data-sure="1" aria-describedby="${q}">${t('yes')}</button><button type="button" class="rv-b2" data-action="no">${t('no')}</button></div>`
      : `<div><button type="button" class="${cls} rv-dng" data-action="${a}"${id}>${label}</button></div>`;
  }

  view() {
    const { me, u, enroll, codes, pks } = this;
    if (!me) return [t('account'), this.err ? '' : `<p class="rv-mu">${t('loading')}</p>`, 'loading'];
    const f = me.factors || {};
    const on = f.totp?.status == 'confirmed';
    const sec = (k, title, body) =>
      `<section aria-labelledby="${u + k}"><h3 id="${u + k}" tabindex="-1">${t(title)}</h3>${body}</section>`;
    const btn = (a, label, cls = 'rv-b2') =>
      `<button type="button" class="${cls}" data-action="${a}">${t(label)}</button>`;
    return [
      t('account'),
      `<p class="rv-mu">${esc(me.user?.email)}</p>` +
        sec(
          'p',
          'password',
          this.form(
            this.field('new_password', t('newPassword'), 'type="password" required autocomplete="new-password"') +
              `<label class="rv-row"><input type="checkbox" name="sign_out_other_sessions" checked>${t('signOutOthers')}</label>`,
            t('changePw'),
            'password-change',
          ),
        ) +
        sec(
          't',
          'totpTitle',
          enroll
            ? `<p>${t('totpScan')}</p><img class="rv-qr" data-testid="totp-qr" alt="${t('qr')}" src="data:image/svg+xml,${encodeURIComponent(
                enroll.qr_svg,
              )}"><p>${t('secret')} <code data-testid="totp-secret">${esc(enroll.secret?.replace(/(.{4})(?=.)/g, '$1 '))}</code></p>` +
                this.form(this.code('totp'), t('confirm'), 'totp-confirm') +
                `<div>${btn('totp-abort', 'cancel')}</div>`
            : on
              ? `<p>${t('totpOn')}</p>` + this.ask('totp-remove', t('remove'))
              : `<p>${t('totpOff')}</p><div>${btn('totp-start', 'setUp', 'rv-b')}</div>`,
        ) +
        (codes
          ? sec(
              'c',
              'codesTitle',
              `<p>${t('codesSave')}</p><ul class="rv-codes" data-testid="backup-codes" tabindex="-1">${codes
                .map((c) => `<li><code>${esc(c)}</code></li>`)
                .join(
                  '',
                )}</ul><div class="rv-row">${btn('codes-copy', 'copy')}${btn('codes-done', 'saved', 'rv-b')}</div>`,
            )
          : on
            ? sec(
                'c',
                'codesTitle',
                `<p>${t('codesLeft', { n: f.backup_codes_remaining ?? 0 })}</p>` +
                  this.ask('backup-regenerate', t('regen')),
              )
            : '') +
        (pks
          ? sec(
              'k',
              'pkTitle',
              (pks.length
                ? `<ul class="rv-list">${pks
                    .map(
                      (p) =>
                        `<li class="rv-row">${
                          this.ren == p.id
                            ? this.form(
                                this.field('passkey_rename', t('pkName'), `required value="${esc(p.name)}"`),
                                t('save'),
                                'passkey-rename-save',
                              ) + btn('no', 'cancel')
                            : `<span>${esc(p.name)}</span>${link(`data-action="passkey-rename" data-id="${esc(p.id)}"`, t('rename'))}${this.ask('passkey-delete', t('del'), p, 'rv-l')}`
                        }</li>`,
                    )
                    .join('')}</ul>`
                : `<p class="rv-mu">${t('pkNone')}</p>`) +
                this.form(
                  this.field('passkey_name', t('pkNameOpt'), 'autocomplete="off"'),
                  t('pkAdd'),
                  'passkey-add',
                  'rv-b2',
                ),
            )
          : ''),
      'account',
    ];
  }

  act(a, b, form) {
    const { c, u } = this;
    const id = b.dataset.id;
    const v = (n) => form.elements[n].value.trim();
    // Focus after the change: the heading of the section it happened in.
    const sec = '#' + b.closest('section')?.firstChild.id;
    const sens = (f, ok, focus = sec) =>
      this.run(
        b,
        () => withReverification(f, { client: c })(),
        async (r) => {
          await ok?.(r);
          await this.load(focus);
        },
      );
    if (ASK[a] && !b.dataset.sure) {
      this.cf = a + (id ?? '');
      return this.paint('[data-sure]');
    }
    this.cf = null;
    if (a == 'no') {
      this.ren = null;
      this.paint(sec);
    } else if (a == 'password-change')
      sens(
        () =>
          c.changePassword(form.elements.new_password.value, {
            signOutOtherSessions: form.elements.sign_out_other_sessions.checked,
          }),
        () => (this.ok = t('pwChanged')),
      );
    else if (a == 'totp-start')
      sens(
        () => c.startTotp(),
        (r) => (this.enroll = r),
        '[name=code]',
      );
    else if (a == 'totp-confirm')
      sens(
        () => c.confirmTotp(v('code')),
        (r) => {
          this.enroll = null;
          this.codes = r.backup_codes;
        },
        '.rv-codes',
      );
    else if (a == 'totp-abort') {
      this.enroll = null;
      this.paint(sec);
    } else if (a == 'totp-remove')
      sens(
        () => c.removeTotp(),
        () => (this.ok = t('totpRemoved')),
        `#${u}t`,
      );
    else if (a == 'backup-regenerate')
      sens(
        () => c.regenerateBackupCodes(),
        (r) => (this.codes = r.backup_codes),
        '.rv-codes',
      );
    else if (a == 'codes-copy')
      navigator.clipboard?.writeText(this.codes.join('\n')).then(() => {
        this.ok = t('copied');
        this.paint('[data-action=codes-copy]');
      });
    else if (a == 'codes-done') {
      this.codes = null;
      this.paint(`#${u}t`);
    } else if (a == 'passkey-add')
      sens(
        () => c.registerPasskey(v('passkey_name') || undefined),
        () => (this.ok = t('pkAdded')),
      );
    else if (a == 'passkey-rename') {
      this.ren = id;
      this.paint('[name=passkey_rename]');
    } else if (a == 'passkey-rename-save')
      sens(
        () => c.renamePasskey(this.ren, v('passkey_rename')),
        () => (this.ren = null),
      );
    else if (a == 'passkey-delete') sens(() => c.deletePasskey(id));
  }

  fail(e) {
    // Cancelling the verification modal is not an error: the button gets focus back.
    if (e?.code != REVERIFICATION_CANCELLED) super.fail(e);
  }
}
