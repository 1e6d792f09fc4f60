// The announcement's flow on a plain page: the Transfer button's handler is wrapped once
// with `withReverification`; a stale session opens the verification modal, and the call
// is retried once after it.
import { ReverifyClient, withReverification } from "/auth/sdk/index.js";
import "/auth/sdk/ui/index.js";

const client = new ReverifyClient({ baseUrl: "/auth" });
const $ = (id) => document.getElementById(id);
const euros = (cents) =>
  (cents / 100).toLocaleString("en", { style: "currency", currency: "EUR" });

const transferMoney = withReverification(
  (to, amountCents) =>
    fetch("/api/transfer", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ to, amount_cents: amountCents }),
    }),
  { client },
);

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function refreshBalance() {
  await client.getToken();
  const r = await fetch("/api/balance");
  if (r.ok) $("balance").textContent = euros((await r.json()).balance_cents);
}

// Re-rendered on sign-in and sign-out only: a verification also changes the session, and
// re-reading the balance then could race with the retried transfer.
let shown = null;
async function render() {
  const user = client.user;
  $("signed-out").hidden = !!user;
  $("signed-in").hidden = !user;
  if (user && user.id !== shown) {
    shown = user.id;
    $("email").textContent = user.email;
    await refreshBalance();
  }
  if (!user) shown = null;
}

$("transfer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const to = $("to").value;
  const cents = Math.round(Number($("amount").value) * 100);
  status("Transferring…");
  try {
    const response = await transferMoney(to, cents);
    const body = await response.json();
    if (response.ok) {
      status(`Sent ${euros(body.amount_cents)} to ${body.to}.`);
      $("balance").textContent = euros(body.balance_cents);
    } else {
      status(body.message || `Transfer failed (${response.status})`, true);
    }
  } catch (error) {
    if (error && error.code === "reverification_cancelled")
      status("Transfer cancelled: you did not confirm it was you.", true);
    else status(`Transfer failed: ${error && error.message}`, true);
  }
});

$("sign-out").addEventListener("click", () => client.signOut());
for (const id of ["sign-in", "sign-up", "account"]) $(id).client = client;
client.onChange(render);
// For the end-to-end tests (and the curious): the same objects from the console.
window.demo = { client, transferMoney, refreshBalance };
await client.load();
await render();
