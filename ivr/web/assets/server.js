// Same-origin JSON requests to the workspace's endpoints, with the page's CSRF token.

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

/** POST `body` as JSON to `url`; resolves to the answer's JSON, or rejects with an Error saying why. */
export async function postJSON(url, body, signal) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
    signal,
  });
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = null;
  }
  if (!response.ok) {
    const said = data && (data.error || data.message);
    throw new Error(said || `the server answered ${response.status} ${response.statusText}`.trim());
  }
  if (!data || typeof data !== "object") {
    throw new Error("the server's answer is not JSON: signed out? Reload the page (your text stays in the form)");
  }
  return data;
}

/** GET `url` as JSON (the schema). */
export async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`${url}: ${response.status}`);
  }
  return response.json();
}

/** A function that runs `task` `wait` ms after the last call (the checks while typing). */
export function debounce(task, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => task(...args), wait);
  };
}
