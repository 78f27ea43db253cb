// The page's terminal takes the keyboard focus as soon as the dashboard has drawn.
//
// Textual's web driver starts the app blurred, as a tab in the background is, and textual.js
// focuses nothing: until the user clicked into the terminal, the keys they typed went
// nowhere and the footer showed no keys. Focusing its input once the first bytes came (the
// app runs, and has taken its start as a blur) sends the app "focus", as a click would.
"use strict";

new MutationObserver((_changes, observer) => {
  if (!document.body.classList.contains("-first-byte")) return;
  observer.disconnect();
  const input = document.querySelector(".xterm-helper-textarea");
  if (input) input.focus();
}).observe(document.body, { attributes: true, attributeFilter: ["class"] });
