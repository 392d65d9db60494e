// Entry point of every console page: picks the page module named by <main data-page>.
import { h, clear } from './dom.js';

const pages = {
  integrations: () => import('./pages/integrations.js'),
  'integration-create': () => import('./pages/integration-create.js'),
  'integration-detail': () => import('./pages/integration-detail.js'),
  offerings: () => import('./pages/offerings.js'),
  'oauth-apps': () => import('./pages/oauth-apps.js'),
  members: () => import('./pages/members.js'),
  events: () => import('./pages/events.js'),
  webhooks: () => import('./pages/webhooks.js'),
  'authorized-apps': () => import('./pages/authorized-apps.js'),
  'webhook-deliveries': () => import('./pages/webhook-deliveries.js'),
};

const main = document.getElementById('main');
const load = main && pages[main.dataset.page];
if (load) {
  load()
    .then((module) => module.render(main))
    .catch((error) => {
      const heading = main.querySelector('h1');
      clear(main);
      if (heading) main.append(heading);
      main.append(
        h(
          'div',
          { class: 'alert alert-error', role: 'alert' },
          h(
            'p',
            {},
            'This page could not be loaded: ',
            error && error.message ? error.message : String(error),
          ),
          h('p', {}, h('a', { href: location.pathname }, 'Try again')),
        ),
      );
    });
}

// The workspace switcher works as a plain form; with scripts it switches as soon as a workspace is
// chosen, and its button is not needed.
const switcher = document.querySelector('form[data-workspace-switch]');
if (switcher) {
  const select = switcher.querySelector('select');
  switcher.querySelector('button')?.setAttribute('hidden', '');
  select?.addEventListener('change', () => switcher.requestSubmit());
}
