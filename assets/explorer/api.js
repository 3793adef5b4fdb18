// The explorer's only way to data: the collector's REST API, with the tab's bearer token when the
// collector wants one. A refused token asks again; every other failure becomes an ApiError
// carrying the API's own message, which the page shows instead of going blank.

const TOKEN_KEY = "acd-api-token";

export class ApiError extends Error {
  constructor(status, message, path) {
    super(message);
    this.status = status;
    this.path = path;
  }
}

let config = null;

/** /api/explorer/config: read-only mode and whether a token is needed (readable without one). */
export async function loadConfig() {
  const r = await fetch("/api/explorer/config");
  if (!r.ok) throw new ApiError(r.status, `config: HTTP ${r.status}`, "/api/explorer/config");
  config = await r.json();
  return config;
}

export const readOnly = () => Boolean(config && config.read_only);

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Shows the token dialog; resolves once a token was entered. `problem` explains a refusal. */
function askToken(problem) {
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  const note = document.getElementById("token-problem");
  note.hidden = !problem;
  note.textContent = problem || "";
  input.value = "";
  return new Promise((resolve) => {
    const form = document.getElementById("token-form");
    form.onsubmit = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      dialog.close();
      resolve();
    };
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

let asking = null;

/** One JSON request; asks for the token when needed and retries with it. */
export async function api(path, options = {}) {
  for (;;) {
    if (config && config.auth_required && !token()) {
      asking = asking || askToken().finally(() => (asking = null));
      await asking;
    }
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, {
      method: options.method || "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    if (r.status === 401) {
      const had = token();
      sessionStorage.removeItem(TOKEN_KEY);
      const problem = had
        ? "The collector refused that token (HTTP 401). Check the value given to --api-token."
        : "This collector needs an API token.";
      asking = asking || askToken(problem).finally(() => (asking = null));
      await asking;
      continue;
    }
    let body = null;
    const text = await r.text();
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!r.ok) {
      const message = (body && body.error) || text || r.statusText;
      throw new ApiError(r.status, `${path}: HTTP ${r.status}: ${message}`, path);
    }
    return body;
  }
}
