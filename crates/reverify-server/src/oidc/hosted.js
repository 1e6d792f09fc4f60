// The OpenID provider's hosted page: runs the sign-in, the reverification or the consent
// screen with the browser SDK's own elements, then continues the waiting authorization
// request. Served by the auth server at /oauth/hosted.js (no inline script: the page's CSP).
const main = document.querySelector('main[data-need]');
const base = main.dataset.base;
const sdk = await import(base + '/sdk/index.js');
const ui = await import(base + '/sdk/ui/index.js');
// `phr` is met by a passkey with user verification only (data-strategies="passkey"): the
// client the modal drives then reports only those methods, so the modal offers nothing else.
// (The server still accepts any factor; the continuation checks what was proved.)
const only = (main.dataset.strategies || '').split(' ').filter(Boolean);
const keep = (answer) => {
  for (const v of [answer, answer && answer.verification])
    for (const k of ['supported_first_factors', 'supported_second_factors'])
      if (only.length && v && Array.isArray(v[k])) v[k] = v[k].filter((f) => only.includes(f.strategy));
  return answer;
};
class HostedClient extends sdk.ReverifyClient {
  startVerification(...a) {
    return super.startVerification(...a).then(keep);
  }
  prepareVerification(...a) {
    return super.prepareVerification(...a).then(keep);
  }
  attemptVerification(...a) {
    return super.attemptVerification(...a).then(keep);
  }
  getVerification(...a) {
    return super.getVerification(...a).then(keep);
  }
}
const client = new HostedClient({ baseUrl: base });
const next = () => location.assign(main.dataset.continue);
const need = main.dataset.need;
const status = main.querySelector('[data-status]');

if (need === 'sign_in') {
  const el = main.querySelector('reverify-sign-in');
  el.client = client;
  // The client reports the sign-in (the element's own event may come after a re-render).
  client.onChange(({ reason }) => reason === 'signed_in' && next());
  el.addEventListener('reverify:signed-in', next);
} else if (need === 'reverify' || need === 'step_up') {
  const button = main.querySelector('button[data-action="verify"]');
  const verify = () => {
    ui.openVerification({ level: main.dataset.level, client }).then(next, (e) => {
      if (status) status.textContent = e && e.code === 'signed_out' ? 'You were signed out.' : '';
      if (e && e.code === 'signed_out') next();
    });
  };
  button.addEventListener('click', verify);
  verify();
} else if (need === 'consent') {
  await import(base + '/sdk/ui/consent.js');
  const el = main.querySelector('reverify-consent');
  el.client = client;
  // The answer is a same-origin fetch (bound to this screen by its one-time token and to the
  // session by its cookie); the page then navigates to where the server says. A form POST
  // redirected to the application would meet `form-action 'self'`, which Chromium applies
  // to redirects.
  el.decide = async (decision) => {
    const r = await fetch(main.dataset.consentUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        request: main.dataset.request,
        consent_token: main.dataset.consentToken,
        decision,
      }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      const e = body.error || {};
      throw new sdk.ReverifyError(e.code || body.code || 'generic', e.message || body.message, { status: r.status });
    }
    location.assign(body.redirect_to);
  };
}
