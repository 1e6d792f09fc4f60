// The elements' stylesheet, inside each element's shadow root: the host page's CSS does not
// reach in, and this does not leak out. Theme from outside with custom properties (they
// inherit into the shadow root; set them on the element or any ancestor, e.g. :root):
//   --reverify-accent, --reverify-accent-text, --reverify-bg, --reverify-text,
//   --reverify-muted, --reverify-border, --reverify-error, --reverify-success,
//   --reverify-radius, --reverify-font, --reverify-width, --reverify-shadow,
//   --reverify-card-border, --reverify-card-padding, --reverify-backdrop
// and with ::part(): card, header, logo, app, title, lead, identity, body, field, label,
// input, error, button, button-primary, link, dialog, list, item.
// Light and dark follow prefers-color-scheme; the `theme` attribute ("light" | "dark")
// forces one (defaults come from light-dark(), so a custom property overrides both).
export const css = `:host{display:block;color-scheme:light dark;max-width:100%;min-width:0}
:host([theme=light]){color-scheme:light}:host([theme=dark]){color-scheme:dark}
:host([hidden]){display:none}
*{box-sizing:border-box}
.card{--a:var(--reverify-accent,light-dark(#4338ca,#a5b4fc));--at:var(--reverify-accent-text,light-dark(#fff,#111827));--r:var(--reverify-radius,10px);--bg:var(--reverify-bg,light-dark(#fff,#1f2937));--fg:var(--reverify-text,light-dark(#111827,#f3f4f6));--mu:var(--reverify-muted,light-dark(#4b5563,#9ca3af));--bd:var(--reverify-border,light-dark(#d1d5db,#4b5563));--er:var(--reverify-error,light-dark(#b91c1c,#fca5a5));--okc:var(--reverify-success,light-dark(#047857,#6ee7b7));
font:15px/1.5 var(--reverify-font,system-ui,-apple-system,"Segoe UI",sans-serif);color:var(--fg);background:var(--bg);border:var(--reverify-card-border,1px solid var(--bd));border-radius:var(--r);padding:var(--reverify-card-padding,1.5rem);box-shadow:var(--reverify-shadow,none);width:100%;max-width:var(--reverify-width,28rem);text-align:left;display:grid;gap:1rem;overflow-wrap:anywhere;min-width:0}
.card>*,.body>*,form>*{min-width:0}
h2,h3,p,ul{margin:0}
h2{font-size:1.25rem;line-height:1.3}
h3{font-size:1rem}
.head{display:flex;gap:.5rem;align-items:center;justify-content:space-between;min-height:1.5rem}
.head[hidden]{display:none}
.brand{display:flex;gap:.5rem;align-items:center;min-width:0;color:var(--mu);font-weight:600;font-size:.875rem}
.brand img{height:1.5rem;width:auto;max-width:8rem}
.titles{display:grid;gap:.25rem}
.mu,.lead{color:var(--mu)}
.body,form,.f,.alt,.list,section{display:grid;gap:.75rem}
.f{gap:.25rem}
section{border-top:1px solid var(--bd);padding-top:1rem}
.alt{gap:.25rem;justify-items:start;border-top:1px solid var(--bd);padding-top:.75rem}
.alt p{font-size:.875rem}
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.id{display:flex;gap:.5rem;align-items:center;padding:.375rem .75rem .375rem .375rem;border:1px solid var(--bd);border-radius:calc(var(--r)*.75);justify-self:start;max-width:100%;font-size:.875rem}
.av{flex:none;width:1.5rem;height:1.5rem;border-radius:50%;display:grid;place-items:center;background:var(--a);color:var(--at);font-weight:600;font-size:.75rem}
label{font-weight:500}
.hint{color:var(--mu);font-size:.875rem}
.fe{color:var(--er);font-size:.875rem;font-weight:500;min-height:1.3125rem}
.fe:not(:empty):before{content:"⚠ ";speak:never}
.note{padding:.625rem .75rem;border-radius:calc(var(--r)*.75);border:1px solid var(--er);color:var(--er)}
.ok{color:var(--okc);font-weight:500}
.note:empty,.ok:empty{display:none}
input:not([type=checkbox]){font:inherit;width:100%;min-width:0;padding:.625rem .75rem;border:1px solid var(--bd);border-radius:calc(var(--r)*.75);background:var(--bg);color:var(--fg)}
input.otp{font-size:1.25rem;letter-spacing:.35em;font-variant-numeric:tabular-nums;text-align:center}
input[type=checkbox]{width:1.125rem;height:1.125rem;margin:0;accent-color:var(--a);flex:none}
.check{display:flex;gap:.5rem;align-items:center;font-weight:400}
[aria-invalid=true]{border-color:var(--er)!important}
button{font:inherit;font-weight:600;min-height:2.75rem;padding:.5rem 1rem;border-radius:calc(var(--r)*.75);border:1px solid var(--a);background:none;color:var(--a);cursor:pointer;max-width:100%}
.b{background:var(--a);color:var(--at);width:100%}
.l{font-weight:500;border:0;min-height:2rem;padding:.25rem 0;text-decoration:underline;text-underline-offset:.2em;text-align:left}
.x{border:0;min-height:2.75rem;min-width:2.75rem;padding:0;color:var(--mu);font-size:1.5rem;line-height:1;font-weight:400}
.dng{--a:var(--er);--at:light-dark(#fff,#111827)}
button:disabled{opacity:.6;cursor:default}
[aria-busy=true]:after{content:"";display:inline-block;width:.8em;height:.8em;margin-left:.5em;border:2px solid;border-right-color:transparent;border-radius:50%;vertical-align:-.1em;animation:spin .7s linear infinite}
@keyframes spin{to{transform:rotate(1turn)}}
@media (prefers-reduced-motion:reduce){[aria-busy=true]:after{animation:none}}
:focus-visible{outline:2px solid var(--a);outline-offset:2px}
.qr{width:180px;max-width:100%;background:#fff;padding:8px;border-radius:6px}
code{font-family:ui-monospace,monospace;word-break:break-all}
.codes{columns:2;padding:0;list-style:none}
.list{padding:0;list-style:none;gap:0}
.item{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:center;justify-content:space-between;padding:.625rem 0;border-bottom:1px solid var(--bd)}
.item:last-child{border-bottom:0}
.item>div:not(.row){display:grid;min-width:0;flex:1 1 12rem}
.tag{font-size:.75rem;font-weight:600;padding:.125rem .5rem;border-radius:999px;background:var(--a);color:var(--at);justify-self:start}
.ask{display:grid;gap:.5rem;flex:1 1 100%}
.ask .row button{flex:1 1 auto}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
dialog{padding:0;border:0;background:none;width:min(28rem,calc(100% - 1.5rem));max-width:none;max-height:calc(100% - 1.5rem);overflow:auto;color:inherit}
dialog .card{--reverify-shadow:0 20px 50px #0005;max-width:none}
dialog::backdrop{background:var(--reverify-backdrop,#0009)}`;
