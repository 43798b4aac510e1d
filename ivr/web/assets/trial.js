// The "Try it" panel: a simulated call through the draft. The server is stateless: every step posts the whole
// list of the caller's inputs so far, and the call is replayed from the start up to where the caller must act.
import { postJSON } from "./server.js";

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
const DEFAULT_CALLER = "+15125550123";

function make(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    node.setAttribute(key, value);
  }
  if (text !== null) {
    node.textContent = text;
  }
  return node;
}

function field(label, input) {
  const wrap = make("label", { class: "try-field" });
  wrap.append(make("span", {}, label), input);
  return wrap;
}

export class TryPanel {
  /** `section`: section#try; `url`: the try endpoint; `source()`: {document, text, nodeType(flow, node)};
   * `onPath(path)`: light the path of the call so far. */
  constructor(section, url, source, onPath) {
    this.section = section;
    this.url = url;
    this.source = source;
    this.onPath = onPath;
    this.inputs = [];
    this.heard = 0; // events already spoken aloud
    this.pending = ""; // digits typed for a gather, sent with # or Send
    this.answer = null;
    this.busy = false;
    this.build();
  }

  build() {
    const s = this.section;
    s.classList.add("try-panel");
    if (!s.querySelector("h2, h3")) {
      s.appendChild(make("h2", {}, "Try it"));
    }
    const settings = make("div", { class: "try-settings" });
    // No names, no form of its own: the panel may sit inside the draft's form, which must not post them.
    this.caller = make("input", { type: "tel", value: DEFAULT_CALLER, autocomplete: "off" });
    this.at = make("input", { type: "datetime-local" });
    this.speak = make("input", { type: "checkbox" });
    const speakLabel = make("label", { class: "try-field try-speak" });
    speakLabel.append(this.speak, make("span", {}, "Read prompts aloud"));
    if (!("speechSynthesis" in window)) {
      this.speak.disabled = true;
    }
    settings.append(field("Caller number", this.caller), field("Time of day (site time; empty: now)", this.at), speakLabel);

    const controls = make("div", { class: "try-controls" });
    this.callButton = make("button", { type: "button", class: "try-call" }, "Call");
    this.hangupButton = make("button", { type: "button", class: "try-hangup" }, "Hang up");
    this.hangupButton.disabled = true;
    controls.append(this.callButton, this.hangupButton);

    this.keypad = make("div", { class: "try-keypad", role: "group", "aria-label": "Keypad" });
    for (const key of KEYS) {
      const button = make("button", { type: "button", "data-key": key }, key);
      this.keypad.appendChild(button);
    }
    this.typed = make("output", { class: "try-typed", "aria-live": "polite" });
    this.sendDigits = make("button", { type: "button", class: "try-send-digits" }, "Send digits");
    this.silence = make("button", { type: "button", class: "try-silence" }, "Say nothing");
    this.silence.title = "The caller waits without answering (the prompt times out)";

    const speech = make("div", { class: "try-speech" });
    this.speech = make("input", { type: "text", placeholder: "Say something", autocomplete: "off" });
    this.sayButton = make("button", { type: "button" }, "Say");
    speech.append(field("Spoken answer", this.speech), this.sayButton);

    this.status = make("p", { class: "try-status", role: "status" });
    this.events = make("ol", { class: "try-events", "aria-live": "polite" });
    this.problems = make("ul", { class: "try-problems" });

    s.append(settings, controls, this.keypad, this.typed, this.sendDigits, this.silence, speech, this.status, this.problems, this.events);

    this.callButton.addEventListener("click", () => this.start());
    this.hangupButton.addEventListener("click", () => this.stop("You hung up."));
    this.keypad.addEventListener("click", (event) => {
      const key = event.target.closest("[data-key]");
      if (key) {
        this.press(key.getAttribute("data-key"));
      }
    });
    this.sendDigits.addEventListener("click", () => this.flushDigits());
    this.silence.addEventListener("click", () => {
      this.pending = "";
      this.send({ silence: true });
    });
    const answer = () => {
      const said = this.speech.value.trim();
      if (said) {
        this.speech.value = "";
        this.send({ speech: said });
      }
    };
    this.sayButton.addEventListener("click", answer);
    s.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.target.tagName !== "INPUT") {
        return;
      }
      event.preventDefault(); // never submit the draft's form from here
      if (event.target === this.speech) {
        answer();
      }
    });
    this.enable();
  }

  /** Whether the call waits for this kind of input ("digits" / "speech"). */
  waitsFor(kind) {
    const answer = this.answer;
    return Boolean(answer && !answer.ended && answer.waiting && answer.waiting.split(" ").includes(kind));
  }

  enable() {
    const digits = this.waitsFor("digits");
    for (const button of this.keypad.querySelectorAll("button")) {
      button.disabled = this.busy || !digits;
    }
    this.sendDigits.disabled = this.busy || !digits || !this.pending;
    this.sendDigits.hidden = !this.pending;
    this.speech.disabled = this.sayButton.disabled = this.busy || !this.waitsFor("speech");
    this.hangupButton.disabled = !this.answer || this.answer.ended;
    this.silence.disabled = this.busy || !(this.answer && !this.answer.ended && this.answer.waiting);
    this.typed.textContent = this.pending ? `Typed: ${this.pending}` : "";
  }

  start() {
    this.inputs = [];
    this.heard = 0;
    this.pending = "";
    this.answer = null;
    this.events.replaceChildren();
    if ("speechSynthesis" in window) {
      window.speechSynthesis.cancel();
    }
    this.send(null);
  }

  stop(message) {
    if (this.answer) {
      this.answer = { ...this.answer, ended: true, waiting: null };
    }
    this.pending = "";
    this.status.textContent = message;
    this.enable();
  }

  /** A key press: a menu takes one key at once; a gather collects keys until # or Send. */
  press(key) {
    const path = (this.answer && this.answer.path) || [];
    const here = path[path.length - 1];
    const collecting = here && this.source().nodeType(here.flow, here.node) === "gather";
    if (!collecting) {
      this.send({ digits: key });
      return;
    }
    if (key === "#") {
      this.flushDigits();
      return;
    }
    this.pending += key;
    this.enable();
  }

  flushDigits() {
    const digits = this.pending;
    this.pending = "";
    this.send({ digits });
  }

  async send(input) {
    if (this.busy) {
      return;
    }
    const inputs = input ? this.inputs.concat([input]) : [];
    const { document: name, text } = this.source();
    const body = { document: name, text, from: this.caller.value.trim() || DEFAULT_CALLER, inputs };
    if (this.at.value) {
      body.at = this.at.value;
    }
    this.busy = true;
    this.status.textContent = input ? "Sending\u2026" : "Calling\u2026";
    this.enable();
    try {
      const answer = await postJSON(this.url, body);
      this.inputs = inputs;
      this.show(answer);
    } catch (error) {
      this.status.textContent = `The try failed: ${error.message}`;
    } finally {
      this.busy = false;
      this.enable();
    }
  }

  show(answer) {
    this.answer = answer;
    const problems = answer.problems || [];
    this.problems.replaceChildren(
      ...problems.map((problem) => {
        const where = [problem.node && `node '${problem.node}'`, problem.field && `field '${problem.field}'`].filter(Boolean);
        return make("li", { class: `problem ${problem.severity || "error"}` }, (where.length ? where.join(", ") + ": " : "") + problem.message);
      }),
    );
    const events = answer.events || [];
    this.events.replaceChildren(
      ...events.map((event) => {
        const item = make("li", { class: `event who-${event.who || "system"} kind-${event.kind || "other"}` });
        item.append(make("span", { class: "who" }, event.who || "system"), make("span", { class: "what" }, event.what || ""));
        return item;
      }),
    );
    if (this.events.lastElementChild) {
      this.events.lastElementChild.scrollIntoView({ block: "nearest" });
    }
    this.say(events.slice(this.heard));
    this.heard = events.length;
    if (problems.some((problem) => (problem.severity || "error") === "error")) {
      // warnings still place the call; only errors stop it
      this.status.textContent = "Fix the errors before trying a call.";
    } else if (answer.ended) {
      this.status.textContent = "The call has ended.";
    } else if (answer.waiting) {
      const asks = answer.waiting.split(" ").map((kind) => (kind === "digits" ? "key presses" : "a spoken answer"));
      this.status.textContent = `Waiting for ${asks.join(" or ")}.`;
    } else {
      this.status.textContent = "";
    }
    this.onPath(answer.path || []);
  }

  say(events) {
    if (!this.speak.checked || !("speechSynthesis" in window)) {
      return;
    }
    for (const event of events) {
      if (event.who === "ivr" && event.kind === "say" && event.what) {
        const utterance = new SpeechSynthesisUtterance(event.what);
        if (event.language) {
          utterance.lang = event.language; // a Spanish prompt is read in Spanish
        }
        window.speechSynthesis.speak(utterance);
      }
    }
  }
}
