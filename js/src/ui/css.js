// The elements' stylesheet, inside each element's shadow root: the host page's CSS does not
// reach in, and this does not leak out. Theme from outside with custom properties (they
// inherit into the shadow root; set them on the element or any ancestor, e.g. :root):
//   --reverify-accent, --reverify-accent-text, --reverify-bg, --reverify-text,
//   --reverify-muted, --reverify-border, --reverify-error, --reverify-success,
//   --reverify-radius, --reverify-font, --reverify-width, --reverify-shadow,
//   --reverify-card-border, --reverify-card-padding, --reverify-backdrop
// and with ::part(): card, header, logo, app, title, lead, identity, body, field, label,
// input, error, button, button-primary, link, dialog, list, item, action.
// Light and dark follow prefers-color-scheme; the `theme` attribute ("light" | "dark")
// forces one (defaults come from light-dark(), so a custom property overrides both).
export const css = `:host{display:block;color-scheme:light dark;max-width:100%;min-width:0}
:host([theme=light]){color-scheme:light}:host([theme=dark]){color-scheme:dark}:host([hidden]){display:none}
*{box-sizing:border-box;min-width:0}
.card{--a:var(--reverify-accent,light-dark(#4338ca,#a5b4fc));--at:var(--reverify-accent-text,Canvas);--r:var(--reverify-radius,10px);--bg:var(--reverify-bg,light-dark(#fff,#1f2937));--fg:var(--reverify-text,CanvasText);--mu:var(--reverify-muted,light-dark(#4b5563,#9ca3af));--bd:var(--reverify-border,light-dark(#d1d5db,#4b5563));--er:var(--reverify-error,light-dark(#b91c1c,#fca5a5));
font:15px/1.5 var(--reverify-font,system-ui,sans-serif);color:var(--fg);background:var(--bg);border:var(--reverify-card-border,1px solid var(--bd));border-radius:var(--r);padding:var(--reverify-card-padding,1.5rem);box-shadow:var(--reverify-shadow,none);max-width:var(--reverify-width,28rem);overflow-wrap:anywhere}
.card,.body,form,.f,.alt,.list,.ask,.titles,section{display:grid;gap:.75rem}
form{gap:.5rem}
h2,h3,p,ul{margin:0}
h2{font-size:1.25rem}
h3{font-size:1rem}
.head,.brand,.row,.id,.check,.item{display:flex;gap:.5rem;align-items:center}
.head,.item{justify-content:space-between}
[tabindex="-1"]:focus{outline:none}
.brand{color:var(--mu);font-weight:600}
.act{padding:.75rem;border-left:4px solid var(--a);background:color-mix(in srgb,var(--a) 12%,var(--bg));border-radius:var(--r);font-weight:600}
.brand img{height:1.5rem}
.mu,.lead,.hint{color:var(--mu)}
.f,.titles,.alt{gap:.25rem}
section,.alt{border-top:1px solid var(--bd);padding-top:1rem}
.alt{justify-items:start}
.row,.item{flex-wrap:wrap}
.id{padding:.375rem .75rem .375rem .375rem;border:1px solid var(--bd);border-radius:var(--r);justify-self:start}
.av{flex:none;width:1.5rem;height:1.5rem;border-radius:50%;display:grid;place-items:center;font-weight:600}
label{font-weight:500}
.fe{color:var(--er);font-weight:500;font-size:.875rem;min-height:1.5em}
.note{padding:.5rem .75rem;border:1px solid;border-radius:var(--r);color:var(--er)}
.ok{color:var(--reverify-success,light-dark(#047857,#6ee7b7))}
.head:empty,.note:empty,.ok:empty{display:none}
input{font:inherit;width:100%;padding:.625rem .75rem;border:1px solid var(--bd);border-radius:var(--r);background:var(--bg);color:var(--fg)}
.otp{font-size:1.25rem;letter-spacing:.35em;text-align:center}
[type=checkbox]{width:1.125rem;height:1.125rem;margin:0;accent-color:var(--a);flex:none}
[aria-invalid=true]{border-color:var(--er)}
button{font:inherit;font-weight:600;min-height:2.75rem;padding:.5rem 1rem;border-radius:var(--r);border:1px solid var(--a);background:none;color:var(--a);cursor:pointer}
.av,.b,.tag{background:var(--a);color:var(--at)}
.b{width:100%}
.l{font-weight:500;border:0;min-height:2rem;padding:0;text-decoration:underline;text-align:left}
.x{border:0;min-width:2.75rem;padding:0;color:var(--mu);font-size:1.5rem;font-weight:400}
.dng{--a:var(--er)}
:disabled{opacity:.6;cursor:default}
[aria-busy=true]:after{content:"";display:inline-block;width:.8em;height:.8em;margin-left:.5em;border:2px solid;border-right-color:transparent;border-radius:50%;animation:s .7s linear infinite}
@keyframes s{to{transform:rotate(1turn)}}
@media (prefers-reduced-motion:reduce){[aria-busy=true]:after{animation:none}}
:focus-visible{outline:2px solid var(--a);outline-offset:2px}
.qr{width:180px;background:#fff;padding:8px}
code{font-family:ui-monospace,monospace}
.codes{columns:2;padding:0;list-style:none}
.list{padding:0;list-style:none;gap:0}
.item{gap:.25rem .75rem;padding:.625rem 0;border-bottom:1px solid var(--bd)}
.item:last-child{border:0}
.item>div:not(.row){display:grid;flex:1 1 12rem}
.tag{font-size:.75rem;font-weight:600;padding:0 .5rem;border-radius:1rem;justify-self:start}
.ask .row>*{flex:1}
dialog{padding:0;border:0;background:none;width:min(28rem,100% - 1.5rem);max-height:calc(100% - 1.5rem);color:inherit}
dialog .card{--reverify-shadow:0 20px 50px #0005;max-width:none}
::backdrop{background:var(--reverify-backdrop,#0009)}`;
