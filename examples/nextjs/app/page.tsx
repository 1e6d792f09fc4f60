import Bank from './bank';

export default function Home() {
  return (
    <main>
      <h1>Acme Bank</h1>
      <Bank />
    </main>
  );
}
