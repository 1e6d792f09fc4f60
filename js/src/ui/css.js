// One stylesheet for all elements (light DOM, classes prefixed "rv-"), added to the
// document once. Theme with custom properties on any ancestor (or :root):
// --reverify-accent, --reverify-accent-text, --reverify-radius, --reverify-font,
// --reverify-bg, --reverify-text, --reverify-muted, --reverify-border, --reverify-error,
// --reverify-backdrop, --reverify-width.
export const css = `.rv-card{--a:var(--reverify-accent,#4338ca);--r:var(--reverify-radius,8px);--bg:var(--reverify-bg,#fff);--fg:var(--reverify-text,#111827);--bd:var(--reverify-border,#d1d5db);--er:var(--reverify-error,#b91c1c);font:15px/1.45 var(--reverify-font,system-ui,sans-serif);color:var(--fg);background:var(--bg);border:1px solid var(--bd);border-radius:var(--r);padding:1.25rem;box-sizing:border-box;max-width:var(--reverify-width,26rem);text-align:left}
.rv-card,.rv-card :is(form,section,.rv-f,.rv-alt,.rv-body,.rv-list){display:grid;gap:.75rem}
.rv-card :is(form,.rv-f,.rv-list){gap:.5rem}
.rv-card :is(h2,h3,p,ul){margin:0}
.rv-card h2{font-size:1.25rem}
.rv-card h3{font-size:1rem}
.rv-card :is(section,.rv-alt){border-top:1px solid var(--bd);padding-top:.75rem}
.rv-card .rv-alt{gap:.25rem;justify-items:start}
.rv-head,.rv-row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.rv-head{justify-content:space-between;flex-wrap:nowrap}
.rv-card .rv-mu,.rv-card .rv-x{color:var(--reverify-muted,#4b5563)}
.rv-err{color:var(--er)}
.rv-err:empty,.rv-ok:empty{position:absolute}
.rv-f label,.rv-err{font-weight:500}
.rv-card input:not([type=checkbox]){font:inherit;box-sizing:border-box;width:100%;padding:.5rem .6rem;border:1px solid var(--bd);border-radius:calc(var(--r)*.75);background:var(--bg);color:var(--fg)}
.rv-card [aria-invalid=true]{border-color:var(--er)}
.rv-card button{font:inherit;font-weight:600;padding:.5rem 1rem;border-radius:calc(var(--r)*.75);border:1px solid var(--a);background:none;color:var(--a);cursor:pointer}
.rv-card .rv-b{background:var(--a);color:var(--reverify-accent-text,#fff)}
.rv-card .rv-l{font-weight:400;border:0;padding:.2rem 0;text-decoration:underline;text-align:left}
.rv-card .rv-x{font-size:1.5rem;line-height:1;border:0;padding:0 .25rem}
.rv-card button:disabled{opacity:.6;cursor:default}
.rv-card [aria-busy=true]:after{content:"";display:inline-block;width:.8em;height:.8em;margin-left:.5em;border:2px solid;border-right-color:transparent;border-radius:50%;vertical-align:-.1em;animation:rv .7s linear infinite}
@keyframes rv{to{transform:rotate(1turn)}}
@media (prefers-reduced-motion:reduce){.rv-card [aria-busy=true]:after{animation:none}}
.rv-card :focus-visible{outline:2px solid var(--a);outline-offset:2px}
.rv-qr{width:180px;background:#fff;padding:8px}
.rv-card code{font-family:ui-monospace,monospace;word-break:break-all}
.rv-card .rv-codes{columns:2;padding:0;list-style:none}
.rv-list{padding:0;list-style:none}
.rv-ask{flex:1 1 100%}
.rv-dng{--a:var(--er)}
.rv-dlg{padding:0;border:0;background:none;width:min(26rem,calc(100% - 2rem))}
.rv-dlg::backdrop{background:var(--reverify-backdrop,#0008)}`;
