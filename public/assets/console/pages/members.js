import { api } from '../api.js';
import {
  act,
  emptyState,
  field,
  h,
  messageArea,
  mount,
  onSubmit,
  pageHeader,
  showSecretOnce,
  time,
} from '../dom.js';

const ROLES = ['admin', 'developer', 'viewer'];
const ROLE_HINT = {
  admin: 'everything in the workspace, including its people and settings',
  developer: 'integrations, connections, tokens, OAuth Apps, webhooks',
  viewer: 'reads only',
};

function roleSelect(value, props = {}) {
  return h(
    'select',
    props,
    ROLES.map((r) => h('option', { value: r, selected: r === value }, r)),
  );
}

export async function render(main) {
  const held = (main.dataset.scopes ?? '').split(' ').filter(Boolean);
  if (!held.includes('members:write')) {
    mount(
      main,
      pageHeader('Members'),
      h(
        'p',
        { class: 'notice', role: 'alert' },
        'Members are managed by the workspace’s admins. Ask one of them to invite people or change roles.',
      ),
    );
    return;
  }
  const platformAdmin = held.includes('workspaces:write');
  const pageMessages = messageArea();
  const linkSlot = h('div', {});
  const membersSlot = h('div', {});
  const invitationsSlot = h('div', {});
  const settingsSlot = h('div', {});

  // ---- invite ----
  const formMessages = messageArea();
  const email = h('input', {
    type: 'email',
    required: true,
    maxlength: '320',
    autocomplete: 'off',
  });
  const role = roleSelect('developer');
  const invite = h('button', { type: 'submit', class: 'button-primary' }, 'Invite');
  const form = h(
    'form',
    { class: 'card stack', novalidate: true, 'aria-labelledby': 'invite-title' },
    h('h2', { id: 'invite-title' }, 'Invite someone'),
    field({ label: 'Email', control: email, name: 'email' }),
    field({
      label: 'Role',
      control: role,
      name: 'role',
      hint: ROLES.map((r) => `${r}: ${ROLE_HINT[r]}`).join('; '),
    }),
    formMessages.el,
    h('div', { class: 'form-actions' }, invite),
  );
  onSubmit(form, invite, formMessages, async () => {
    const created = (
      await api('POST', '/invitations', { email: email.value.trim(), role: role.value })
    ).data;
    email.value = '';
    await loadInvitations();
    showLink(created);
  });

  // ---- the link, once (no mail server, or the email failed); gone on "Done" or reload ----
  function showLink(invitation) {
    if (invitation.delivery === 'email') {
      pageMessages.success(`Invitation emailed to ${invitation.email}.`);
      return;
    }
    showSecretOnce(linkSlot, {
      id: 'link',
      title: `Invitation for ${invitation.email}: copy the link now`,
      warning: [
        invitation.delivery === 'failed'
          ? 'The invitation email could not be sent (the mail server refused it or could not be reached), but the invitation exists. '
          : '',
        'This link is shown only now. Send it to the person yourself; it works once, for that email, for 7 days.',
      ],
      fields: [
        {
          id: 'invitation-link',
          label: 'Invitation link',
          value: invitation.link,
          copyName: 'invitation link',
          secret: true,
        },
      ],
      doneLabel: 'Done',
    });
  }

  // ---- members ----
  async function loadMembers() {
    const members = (await api('GET', '/members')).data.data;
    if (!members.length) {
      membersSlot.replaceChildren(emptyState('No members yet', 'Invite someone below.'));
      return;
    }
    membersSlot.replaceChildren(
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h('caption', { class: 'visually-hidden' }, 'Members of this workspace'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Email', 'Role', 'Joined', 'Actions'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h('tbody', {}, members.map(memberRow)),
        ),
      ),
    );
  }
  function memberRow(m) {
    const select = roleSelect(m.role, { 'aria-label': `Role of ${m.email}` });
    select.addEventListener('change', async () => {
      pageMessages.clear();
      try {
        await api('PATCH', `/members/${m.userId}`, { role: select.value });
        pageMessages.success(`${m.email} is now ${select.value}.`);
      } catch (error) {
        select.value = m.role;
        pageMessages.error(error.message).focus();
      }
      await loadMembers();
    });
    return h(
      'tr',
      { dataset: { userId: m.userId } },
      h(
        'th',
        { scope: 'row' },
        m.email,
        m.disabled ? h('span', { class: 'badge badge-revoked' }, ' Disabled') : '',
      ),
      h('td', {}, select),
      h('td', {}, time(m.joinedAt)),
      h(
        'td',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'button-danger button-small',
            'aria-label': `Remove ${m.email}`,
            onclick: () => remove(m),
          },
          'Remove',
        ),
        platformAdmin ? [' ', disableOrEnable(m)] : null,
      ),
    );
  }
  // Platform admins: disabling and enabling act on the user everywhere, not on this membership.
  function disableOrEnable(m) {
    const enable = m.disabled;
    return h(
      'button',
      {
        type: 'button',
        class: `${enable ? 'button-secondary' : 'button-danger'} button-small`,
        'aria-label': `${enable ? 'Enable' : 'Disable'} ${m.email}`,
        onclick: async () => {
          const question = enable
            ? `Enable ${m.email} again? They can sign in to all their workspaces again. Their OAuth Apps that were revoked stay revoked.`
            : `Disable ${m.email} everywhere? They cannot sign in, all their sessions end, and the OAuth Apps they created are revoked.`;
          const asked = await act(
            pageMessages,
            async () => {
              await api('POST', `/users/${m.userId}/${enable ? 'enable' : 'disable'}`);
              pageMessages.success(`${m.email} was ${enable ? 'enabled' : 'disabled'}.`);
            },
            { question },
          );
          if (asked) await loadMembers();
        },
      },
      enable ? 'Enable' : 'Disable',
    );
  }
  async function remove(m) {
    const asked = await act(
      pageMessages,
      async () => {
        await api('DELETE', `/members/${m.userId}`);
        pageMessages.success(`${m.email} was removed.`);
      },
      {
        question: `Remove ${m.email} from this workspace? Their sessions here end, and the OAuth Apps they created are revoked.`,
      },
    );
    if (asked) await loadMembers();
  }

  // ---- open invitations ----
  async function loadInvitations() {
    const open = (await api('GET', '/invitations')).data.data.filter(
      (i) => i.status !== 'accepted',
    );
    invitationsSlot.replaceChildren(
      h('h2', {}, 'Invitations'),
      open.length
        ? h(
            'ul',
            { class: 'stack' },
            open.map((i) =>
              h(
                'li',
                { dataset: { invitationId: i.id } },
                `${i.email} (${i.role}) — ${i.status === 'expired' ? 'expired' : 'expires'} `,
                time(i.expiresAt),
                ' ',
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'button-secondary button-small',
                    'aria-label': `Withdraw the invitation for ${i.email}`,
                    onclick: async () => {
                      await api('DELETE', `/invitations/${i.id}`).catch((e) =>
                        pageMessages.error(e.message),
                      );
                      await loadInvitations();
                    },
                  },
                  'Withdraw',
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No open invitations.'),
    );
  }

  // ---- who may create OAuth Apps ----
  async function loadSettings() {
    const { appCreation } = (await api('GET', '/workspace-settings')).data;
    const select = h(
      'select',
      { id: 'app-creation' },
      h(
        'option',
        { value: 'admins_and_developers', selected: appCreation === 'admins_and_developers' },
        'Admins and developers',
      ),
      h('option', { value: 'admins', selected: appCreation === 'admins' }, 'Admins only'),
    );
    select.addEventListener('change', async () => {
      pageMessages.clear();
      try {
        await api('PATCH', '/workspace-settings', { appCreation: select.value });
        pageMessages.success('Saved.');
      } catch (error) {
        pageMessages.error(error.message).focus();
      }
    });
    settingsSlot.replaceChildren(
      h(
        'section',
        { class: 'card stack' },
        h('h2', {}, 'OAuth App creation'),
        h(
          'div',
          { class: 'field' },
          h(
            'label',
            { for: 'app-creation' },
            'Who may create OAuth Apps and regenerate their secrets',
          ),
          select,
        ),
      ),
    );
  }

  await Promise.all([loadMembers(), loadInvitations(), loadSettings()]);
  mount(
    main,
    pageHeader('Members'),
    h(
      'p',
      { class: 'lead' },
      'People who can sign in to this workspace, and what their role lets them do.',
    ),
    pageMessages.el,
    linkSlot,
    membersSlot,
    invitationsSlot,
    form,
    settingsSlot,
  );
}
