// The announcement's example, as written there, with React and the hook.
import React, { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { ReverifyClient } from "@reverify/browser";
import { useReverification } from "@reverify/browser/react";
import "@reverify/browser/ui";

const client = new ReverifyClient({ baseUrl: "/auth" });

function Transfer() {
  const [result, setResult] = useState("");
  // The announcement's array form; `const transferMoney = useReverification(...)` works too.
  const [transferMoney] = useReverification(
    () =>
      fetch("/api/transfer", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ to: "Bob", amount_cents: 2500 }),
      }),
    { client },
  );
  const onClick = async () => {
    try {
      const response = await transferMoney();
      const body = await response.json();
      setResult(
        response.ok
          ? `Sent. New balance: ${body.balance_cents / 100} €`
          : body.message,
      );
    } catch (e) {
      setResult(
        e.code === "reverification_cancelled"
          ? "Transfer cancelled."
          : String(e.message),
      );
    }
  };
  return (
    <section>
      <h2>Transfer 25 € to Bob</h2>
      <button id="transfer" onClick={onClick}>
        Transfer
      </button>
      <p id="status" role="status">
        {result}
      </p>
    </section>
  );
}

function App() {
  const [user, setUser] = useState(undefined);
  useEffect(() => {
    const off = client.onChange(() => setUser(client.user));
    client.load().then(() => setUser(client.user));
    return off;
  }, []);
  if (user === undefined) return <p>Loading…</p>;
  if (!user) {
    return (
      <section>
        <h1>Reverify demo bank (React)</h1>
        <reverify-sign-in ref={(el) => el && (el.client = client)} />
      </section>
    );
  }
  return (
    <>
      <h1>Hello {user.email}</h1>
      <Transfer />
    </>
  );
}

createRoot(document.getElementById("root")).render(<App />);
