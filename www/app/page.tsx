import Demo from "@/components/Demo";

export default function Page() {
  return (
    <main className="page">
      <header className="header">
        <h1>imagegen</h1>
        <p>
          Image generation that keeps working when a provider is down, rate-limited or out of credit. One Rust engine
          compiled to WebAssembly runs on a Node route, an Edge route, in your browser and in a Cloudflare Worker. Make
          the mock provider fail and watch the retries and the fallback.
        </p>
      </header>
      <Demo />
    </main>
  );
}
