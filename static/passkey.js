// Passkeys (WebAuthn) need the browser's navigator.credentials, so this file runs the
// dialog for the passkey forms of the portal: Add a passkey, and Use your passkey at sign-in.
// A form marked data-passkey stays hidden until this script shows it; on submit the script
// asks the portal for the dialog's options (data-options, with the form's CSRF token), lets
// the browser run the dialog, puts its answer in the form's "credential" field and submits
// the form as a plain POST, so that the answer page is an ordinary page. Without JavaScript
// the forms stay hidden and the page says to use the authenticator app.
(function () {
  "use strict";

  function fromBase64URL(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64URL(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The portal sends binary values as base64url text (the WebAuthn JSON forms); the
  // browser's API wants them as bytes.
  function creationOptions(o) {
    o.challenge = fromBase64URL(o.challenge);
    o.user.id = fromBase64URL(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = fromBase64URL(c.id); });
    return o;
  }

  function requestOptions(o) {
    o.challenge = fromBase64URL(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = fromBase64URL(c.id); });
    return o;
  }

  // credentialJSON is the browser's answer in the WebAuthn JSON form the portal reads.
  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toBase64URL(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64URL(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toBase64URL(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toBase64URL(r.authenticatorData);
      out.response.signature = toBase64URL(r.signature);
      if (r.userHandle) out.response.userHandle = toBase64URL(r.userHandle);
    }
    return out;
  }

  function say(form, text) {
    var box = form.querySelector("[data-passkey-error]");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  function setUp(form) {
    var register = form.getAttribute("data-passkey") === "register";
    if (!window.PublicKeyCredential || !navigator.credentials) {
      var note = form.parentNode.querySelector("[data-passkey-unsupported]");
      if (note) note.hidden = false;
      return;
    }
    form.hidden = false;
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (evt) {
      evt.preventDefault();
      say(form, "");
      button.disabled = true;
      var token = form.querySelector("input[name=_csrf]").value;
      fetch(form.getAttribute("data-options"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": token, "Accept": "application/json" }
      }).then(function (resp) {
        if (resp.status === 401 || resp.redirected) {
          location.assign("/login");
          throw new Error("signed out");
        }
        if (!resp.ok) throw new Error("the portal answered " + resp.status);
        return resp.json();
      }).then(function (options) {
        return register
          ? navigator.credentials.create({ publicKey: creationOptions(options.publicKey) })
          : navigator.credentials.get({ publicKey: requestOptions(options.publicKey) });
      }).then(function (cred) {
        form.querySelector("input[name=credential]").value = JSON.stringify(credentialJSON(cred));
        form.submit(); // a plain submit: no second submit event
      }).catch(function (err) {
        button.disabled = false;
        if (err && err.message === "signed out") return;
        say(form, err && err.name === "NotAllowedError"
          ? "The passkey dialog was closed or timed out. Try again, or choose another way."
          : "The passkey didn't work (" + (err && (err.name || err.message)) + "). Try again, or choose another way.");
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-passkey]").forEach(setUp);
  });
})();
