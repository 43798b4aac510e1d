// The "Changes" toggle: the draft in the editor against the published text, as a unified diff inside the
// editor itself (deleted lines shown above the new ones), still editable.
import { unifiedMergeView } from "@codemirror/merge";

export class ChangesToggle {
  /** `view`: the editor, configured with `compartment` (empty); `published`: "" for a new document. */
  constructor(view, compartment, published, toolbar) {
    this.view = view;
    this.published = published;
    this.compartment = compartment;
    this.on = false;
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.className = "changes-toggle";
    this.button.setAttribute("aria-pressed", "false");
    this.button.textContent = "Changes";
    this.button.title = "Show what this draft changes in the published version";
    this.button.addEventListener("click", () => this.toggle());
    toolbar.appendChild(this.button);
  }

  toggle() {
    this.on = !this.on;
    this.button.setAttribute("aria-pressed", String(this.on));
    this.view.dom.classList.toggle("showing-changes", this.on);
    const merge = unifiedMergeView({
      original: this.published,
      mergeControls: false,
      gutter: true,
      syntaxHighlightDeletions: false,
      collapseUnchanged: { margin: 3, minSize: 6 },
    });
    this.view.dispatch({ effects: this.compartment.reconfigure(this.on ? merge : []) });
  }
}
