/*
 * Latchkey connect helper: https://<latchkey>/sdk/connect.js
 *
 *   <script src="https://latchkey.example.com/sdk/connect.js"></script>
 *   const { connectionId } = await Latchkey.connect(connectUrl);
 *
 * Opens the connect URL (from POST /api/v1/connect-sessions) in a popup, and settles when the popup
 * reports back: resolves with { connectionId }, or rejects with a LatchkeyConnectError whose `code` is
 * the provider's or Latchkey's error (e.g. "access_denied"), "popup_closed" when the user closed the
 * popup, "popup_blocked" when the browser refused to open it, or "invalid_connect_url".
 * Only messages from the connect URL's origin, sent by the popup itself, are listened to.
 * Call it from a user gesture (a click), or browsers block the popup.
 */
(function () {
  'use strict';

  var MESSAGE_TYPE = 'latchkey:connect';
  /** Time allowed for the popup's last message to arrive after it closes itself. */
  var CLOSE_GRACE_MS = 400;

  function LatchkeyConnectError(code, message) {
    var error = new Error(message || code);
    error.name = 'LatchkeyConnectError';
    error.code = code;
    return error;
  }

  function popupFeatures(width, height) {
    var left = Math.max(
      0,
      Math.round((window.screenX || 0) + ((window.outerWidth || width) - width) / 2),
    );
    var top = Math.max(
      0,
      Math.round((window.screenY || 0) + ((window.outerHeight || height) - height) / 2),
    );
    return 'popup=yes,width=' + width + ',height=' + height + ',left=' + left + ',top=' + top;
  }

  /**
   * @param {string} connectUrl the `connectUrl` of a connect session
   * @param {{width?: number, height?: number}} [options]
   * @returns {Promise<{connectionId: string}>}
   */
  function connect(connectUrl, options) {
    var url;
    try {
      url = new URL(String(connectUrl));
    } catch {
      return Promise.reject(
        LatchkeyConnectError('invalid_connect_url', 'connectUrl is not a URL.'),
      );
    }
    if (
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      !/\/connect\/[^/]+$/.test(url.pathname)
    ) {
      return Promise.reject(
        LatchkeyConnectError('invalid_connect_url', 'connectUrl is not a Latchkey connect URL.'),
      );
    }
    url.searchParams.set('display', 'popup');
    var origin = url.origin;
    var opts = options || {};

    // Opened synchronously, still inside the caller's click, so popup blockers allow it.
    var popup = window.open(
      url.toString(),
      'latchkey-connect',
      popupFeatures(opts.width || 520, opts.height || 720),
    );
    if (!popup) {
      return Promise.reject(
        LatchkeyConnectError('popup_blocked', 'The browser blocked the connect popup.'),
      );
    }
    try {
      popup.focus();
    } catch {
      /* some browsers refuse focus; harmless */
    }

    return new Promise(function (resolve, reject) {
      var settled = false;
      var timer;

      function finish(fn, value) {
        if (settled) return;
        settled = true;
        window.removeEventListener('message', onMessage);
        clearInterval(timer);
        fn(value);
      }

      function onMessage(event) {
        if (event.origin !== origin || event.source !== popup) return;
        var data = event.data;
        if (!data || typeof data !== 'object' || data.type !== MESSAGE_TYPE) return;
        if (data.status === 'connected' && typeof data.connectionId === 'string') {
          finish(resolve, { connectionId: data.connectionId });
        } else {
          var code = typeof data.error === 'string' && data.error ? data.error : 'connect_failed';
          finish(reject, LatchkeyConnectError(code, 'The connection was not made: ' + code + '.'));
        }
      }

      window.addEventListener('message', onMessage);
      timer = setInterval(function () {
        if (!popup.closed) return;
        clearInterval(timer);
        // The popup posts its result and then closes: let that message arrive first.
        setTimeout(function () {
          finish(
            reject,
            LatchkeyConnectError(
              'popup_closed',
              'The connect window was closed before it finished.',
            ),
          );
        }, CLOSE_GRACE_MS);
      }, 250);
    });
  }

  var api = { connect: connect, version: '1' };
  if (typeof window !== 'undefined') window.Latchkey = api;
})();
