// The OpenID provider's hosted page: runs the sign-in or the reverification with the
// browser SDK's own elements, then continues the waiting authorization request.
// Served by the auth server at /oauth/hosted.js (no inline script: the page's CSP).
const main = document.querySelector('main[data-need]');
const base = main.dataset.base;
const sdk = await import(base + '/sdk/index.js');
const ui = await import(base + '/sdk/ui/index.js');
const client = new sdk.ReverifyClient({ baseUrl: base });
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
}
