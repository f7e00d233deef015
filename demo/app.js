// The Microchatter demo page: everything goes through the SDK (/demo/sdk.js is microchatter-client),
// the page only renders the conversation store and calls SDK methods. No framework, no build step.
import { createClient, createConversationStore } from '/demo/sdk.js';

const $ = (id) => document.getElementById(id);
const QUICK_REACTIONS = ['👍', '❤️', '😂'];
const PAGE_SIZE = 30;

/** DEMO ONLY: the token provider asks the demo sign-in; a real site asks its own backend. */
function demoTokenProvider(userId) {
  return async () => {
    const response = await fetch('/demo/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: userId }),
    });
    if (!response.ok) throw new Error(`sign-in refused (${response.status})`);
    return (await response.json()).token;
  };
}

/** A DOM element: el('p', {class: 'x'}, 'text', child…); text goes in as text, never as HTML. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

function start(me) {
  const client = createClient({ baseUrl: location.origin, token: demoTokenProvider(me) });
  const store = createConversationStore({ me });
  /** conversation_id → the history pages iterator, and whether older pages remain. */
  const histories = new Map();
  /** conversation_id → user → read_at (read receipts' times; the store keeps the seqs). */
  const readTimes = new Map();
  const known = new Set();
  const previews = new Map();
  let openId;
  let replyTo;
  let editing;
  let typingSentAt = 0;
  let searchResults;
  /** Whether the reader is at the newest message: new ones (and late image previews) keep it in view. */
  let stickToBottom = true;

  $('signin').hidden = true;
  $('chat').hidden = false;
  $('me').textContent = me;

  const titleOf = (c) => c.title ?? c.peer ?? `Conversation ${c.conversation_id}`;
  const previewOf = (m) => {
    if (!m) return 'No messages yet';
    if (m.deleted_at) return 'Message deleted';
    const text = m.body || (m.attachments.length ? `📎 ${m.attachments[0].name}` : '');
    return `${m.sender === me ? 'You' : m.sender}: ${text}`;
  };

  // ---- Inbox ---------------------------------------------------------------------------------
  function renderInbox() {
    const items = store.conversations().map((c) =>
      el(
        'li',
        {},
        el(
          'button',
          {
            type: 'button',
            'aria-current': c.conversation_id === openId ? 'true' : 'false',
            'data-conversation': c.conversation_id,
            onclick: () => openConversation(c.conversation_id),
          },
          el('span', { class: 'name' }, titleOf(c)),
          c.unread > 0 && !c.muted
            ? el('span', { class: 'badge', 'aria-label': `${c.unread} unread` }, String(c.unread))
            : el('span'),
          el('span', { class: 'preview' }, previewOf(c.last_message)),
        ),
      ),
    );
    $('inbox').replaceChildren(...items);
  }

  async function loadInbox() {
    store.clear();
    for await (const page of client.inbox({ pageSize: 50 }).pages()) {
      store.putConversations(page);
      for (const c of page) known.add(c.conversation_id);
      break; // the first 50 are plenty for a demo
    }
  }

  /** A conversation first heard of through an event: fetch it whole (title, members, unread). */
  async function learn(conversationId) {
    if (known.has(conversationId)) return;
    known.add(conversationId);
    try {
      store.putConversations([await client.get_conversation({ conversation_id: conversationId })]);
    } catch {
      known.delete(conversationId);
    }
  }

  // ---- A conversation ------------------------------------------------------------------------
  async function loadOlder(conversationId) {
    let history = histories.get(conversationId);
    if (!history) {
      history = {
        pages: client.history(conversationId, { pageSize: PAGE_SIZE }).pages()[Symbol.asyncIterator](),
        more: true,
        busy: false,
      };
      histories.set(conversationId, history);
    }
    if (!history.more || history.busy) return;
    history.busy = true;
    const list = $('messages');
    const fromBottom = list.scrollHeight - list.scrollTop;
    try {
      const { value, done } = await history.pages.next();
      if (done || value.length < PAGE_SIZE) history.more = false;
      if (value) store.putMessages(conversationId, value);
    } finally {
      history.busy = false;
    }
    // Keep what the reader was looking at in place while older messages appear above it.
    if (conversationId === openId) list.scrollTop = list.scrollHeight - fromBottom;
  }

  async function loadReadPositions(conversationId) {
    try {
      const rows = await client.list_read_positions({ conversation_id: conversationId });
      const times = readTimes.get(conversationId) ?? new Map();
      for (const row of rows) {
        times.set(row.user, row.read_at);
        // As an event would: the store keeps the highest seq per member.
        store.apply({
          type: 'conversation.read',
          id: undefined,
          data: {
            conversation_id: conversationId,
            user: row.user,
            read_seq: row.read_seq,
            read_at: row.read_at ?? undefined,
          },
        });
      }
      readTimes.set(conversationId, times);
    } catch {
      // Read receipts need list_read_positions (live signals); without it the page shows none.
    }
  }

  async function openConversation(conversationId) {
    openId = conversationId;
    cancelComposerMode();
    $('chat').classList.add('open');
    $('body').disabled = false;
    $('send').disabled = false;
    $('messages').replaceChildren();
    renderConversation();
    renderInbox();
    if (!histories.has(conversationId)) await loadOlder(conversationId);
    await loadReadPositions(conversationId);
    scrollToBottom();
    markRead();
    $('body').focus();
  }

  function scrollToBottom() {
    const list = $('messages');
    list.scrollTop = list.scrollHeight;
    stickToBottom = true;
  }

  /** Marks the open conversation read while the page is visible (the sender sees "Seen"). */
  function markRead() {
    const c = openId === undefined ? undefined : store.conversation(openId);
    if (!c || c.unread === 0 || document.visibilityState !== 'visible') return;
    client
      .mark_read({ conversation_id: openId })
      .then((updated) => store.putConversations([updated]))
      .catch(() => {});
  }

  function attachmentView(a) {
    if (a.content_type.startsWith('image/')) {
      // A preview that loads after the render makes the list taller: keep the newest in view.
      const img = el('img', { alt: a.name, onload: () => stickToBottom && scrollToBottom() });
      let url = previews.get(a.attachment_id);
      if (url) img.src = url;
      else {
        client
          .downloadAttachment(a.attachment_id)
          .then((r) => r.blob())
          .then((blob) => {
            url = URL.createObjectURL(blob);
            previews.set(a.attachment_id, url);
            img.src = url;
          })
          .catch(() => img.replaceWith(el('span', { class: 'file' }, `📎 ${a.name} (unavailable)`)));
      }
      return img;
    }
    return el(
      'button',
      {
        type: 'button',
        class: 'link file',
        onclick: async () => {
          const blob = await (await client.downloadAttachment(a.attachment_id)).blob();
          const link = el('a', { href: URL.createObjectURL(blob), download: a.name });
          link.click();
        },
      },
      `📎 ${a.name} (${Math.ceil(a.size / 1024)} KiB)`,
    );
  }

  function messageView(m, byseq) {
    const mine = m.sender === me;
    const deleted = Boolean(m.deleted_at);
    const quoted = m.reply_to_seq ? byseq.get(m.reply_to_seq) : undefined;
    const actions = deleted
      ? []
      : [
          el('button', { type: 'button', class: 'small', onclick: () => startReply(m) }, 'Reply'),
          ...QUICK_REACTIONS.filter((e) => !m.reactions.some((r) => r.emoji === e)).map((emoji) =>
            el(
              'button',
              {
                type: 'button',
                class: 'small',
                'aria-label': `React ${emoji}`,
                onclick: () => toggleReaction(m, emoji),
              },
              emoji,
            ),
          ),
          mine && el('button', { type: 'button', class: 'small', onclick: () => startEdit(m) }, 'Edit'),
          mine && el('button', { type: 'button', class: 'small', onclick: () => deleteMessage(m) }, 'Delete'),
        ];
    return el(
      'article',
      {
        class: `message${mine ? ' mine' : ''}${deleted ? ' deleted' : ''}`,
        'data-seq': m.seq,
        'aria-label': `${m.sender} at ${time(m.sent_at)}`,
      },
      el(
        'div',
        { class: 'meta' },
        el('strong', {}, mine ? 'You' : m.sender),
        el('time', { datetime: m.sent_at }, time(m.sent_at)),
        m.edited_at && !deleted && el('span', { class: 'edited' }, '(edited)'),
      ),
      m.reply_to_seq &&
        el(
          'div',
          { class: 'quote' },
          quoted
            ? `${quoted.sender}: ${quoted.deleted_at ? 'Message deleted' : quoted.body}`
            : `Reply to #${m.reply_to_seq}`,
        ),
      el('p', { class: 'text' }, deleted ? 'Message deleted' : m.body),
      ...m.attachments.map(attachmentView),
      m.reactions.length > 0 &&
        el(
          'div',
          { class: 'reactions' },
          m.reactions.map((r) =>
            el(
              'button',
              {
                type: 'button',
                'aria-pressed': r.users.includes(me) ? 'true' : 'false',
                'aria-label': `${r.emoji} ${r.count}: ${r.users.join(', ')}`,
                onclick: () => toggleReaction(m, r.emoji),
              },
              `${r.emoji} ${r.count}`,
            ),
          ),
        ),
      actions.length > 0 && el('div', { class: 'actions' }, actions),
    );
  }

  /** "Seen" under my last message once another member has read that far. */
  function seenView(lastMine) {
    if (!lastMine) return null;
    const readers = [...store.readPositions(openId)]
      .filter(([user, seq]) => user !== me && seq >= lastMine.seq)
      .map(([user]) => user);
    if (readers.length === 0) return null;
    const c = store.conversation(openId);
    const at = readers
      .map((u) => readTimes.get(openId)?.get(u))
      .filter(Boolean)
      .sort()
      .pop();
    const who = c?.kind === 'group' ? ` by ${readers.join(', ')}` : '';
    return el('p', { class: 'seen', 'data-seen': 'true' }, `Seen${who}${at ? ` ${time(at)}` : ''}`);
  }

  function renderConversation() {
    const c = openId === undefined ? undefined : store.conversation(openId);
    $('title').textContent = c ? titleOf(c) : 'Pick a conversation';
    if (!c) return;
    const list = $('messages');
    const messages = store.messages(openId);
    const byseq = new Map(messages.map((m) => [m.seq, m]));
    const history = histories.get(openId);
    const lastMine = messages.findLast((m) => m.sender === me && !m.deleted_at);
    const seen = seenView(lastMine);
    list.replaceChildren(
      history?.more
        ? el('p', { class: 'older' }, 'Scroll up for older messages')
        : el(
            'p',
            { class: 'older' },
            messages.length ? 'Start of the conversation' : 'No messages yet: say hello',
          ),
      ...messages.flatMap((m) =>
        m === lastMine ? [messageView(m, byseq), seen ?? ''] : [messageView(m, byseq)],
      ),
    );
    if (stickToBottom) scrollToBottom();
    const typing = store.typing(openId);
    $('typing').textContent =
      typing.length === 0 ? '' : `${typing.join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…`;
  }

  // ---- Actions -------------------------------------------------------------------------------
  function setComposerNote(text) {
    $('composer-note').hidden = !text;
    $('composer-note-text').textContent = text ?? '';
  }
  function cancelComposerMode() {
    if (editing) $('body').value = '';
    replyTo = undefined;
    editing = undefined;
    setComposerNote(undefined);
  }
  function startReply(m) {
    editing = undefined;
    replyTo = m.seq;
    setComposerNote(`Replying to ${m.sender}: ${m.body.slice(0, 60)}`);
    $('body').focus();
  }
  function startEdit(m) {
    replyTo = undefined;
    editing = m.seq;
    setComposerNote('Editing your message (Esc to cancel)');
    $('body').value = m.body;
    $('body').focus();
  }
  async function deleteMessage(m) {
    if (!confirm('Delete this message for everyone?')) return;
    await client.delete_message({ conversation_id: openId, seq: m.seq }).then(putMessage, showError);
  }
  async function toggleReaction(m, emoji) {
    const mineAlready = m.reactions.some((r) => r.emoji === emoji && r.users.includes(me));
    const call = mineAlready ? client.unreact : client.react;
    await call({ conversation_id: openId, seq: m.seq, emoji }).then(putMessage, showError);
  }
  const putMessage = (m) => store.putMessages(m.conversation_id, [m]);
  function showError(error) {
    setComposerNote(`Refused: ${error.message}${error.code ? ` (${error.code})` : ''}`);
  }

  async function send() {
    const body = $('body').value;
    if (openId === undefined) return;
    const conversationId = openId;
    if (editing !== undefined) {
      if (body.trim() === '') return;
      const seq = editing;
      cancelComposerMode();
      $('body').value = '';
      return client.edit_message({ conversation_id: conversationId, seq, body }).then(putMessage, showError);
    }
    if (body.trim() === '') return;
    const reply = replyTo;
    cancelComposerMode();
    $('body').value = '';
    stopTyping();
    return client
      .send_message({
        conversation_id: conversationId,
        body,
        reply_to_seq: reply ?? null,
        client_id: crypto.randomUUID(),
      })
      .then((m) => {
        putMessage(m);
        scrollToBottom();
      }, showError);
  }

  async function sendFile(file) {
    if (openId === undefined || !file) return;
    const conversationId = openId;
    setComposerNote(`Uploading ${file.name}…`);
    try {
      const info = await client.uploadAttachment(file, { name: file.name, contentType: file.type });
      const body = $('body').value;
      $('body').value = '';
      const m = await client.send_message({
        conversation_id: conversationId,
        body,
        attachments: [info.attachment_id],
        client_id: crypto.randomUUID(),
      });
      setComposerNote(undefined);
      putMessage(m);
      scrollToBottom();
    } catch (error) {
      showError(error);
    }
  }

  /** set_typing at most every 2 s while typing (the server throttles too), false when done. */
  function noteTyping() {
    if (openId === undefined || editing !== undefined) return;
    const now = Date.now();
    if ($('body').value === '') return stopTyping();
    if (now - typingSentAt < 2000) return;
    typingSentAt = now;
    client.set_typing({ conversation_id: openId, typing: true }).catch(() => {});
  }
  function stopTyping() {
    if (typingSentAt === 0 || openId === undefined) return;
    typingSentAt = 0;
    const conversationId = openId;
    // set_typing throttles every call, a stop too (it answers false when it dropped one): say it again
    // once the 2 s window has passed, unless typing started again meanwhile.
    const stop = (retry) =>
      client
        .set_typing({ conversation_id: conversationId, typing: false })
        .then((forwarded) => {
          if (!forwarded && retry) setTimeout(() => typingSentAt === 0 && stop(false), 2100);
        })
        .catch(() => {});
    stop(true);
  }

  async function search(query) {
    const results = $('search-results');
    if (!query.trim()) {
      searchResults = undefined;
      results.hidden = true;
      $('inbox').hidden = false;
      return;
    }
    try {
      searchResults = await client.search_messages({ query, limit: 20 });
    } catch (error) {
      searchResults = [];
      showError(error);
    }
    results.hidden = false;
    $('inbox').hidden = true;
    const items = searchResults.map((m) => {
      const snippet = el('span', { class: 'preview' });
      // The snippet is escaped text with <mark> around the matches: keep only those marks.
      const decoder = document.createElement('textarea'); // decodes entities, runs and loads nothing
      for (const [i, part] of m.snippet.split(/<\/?mark>/).entries()) {
        decoder.innerHTML = part;
        snippet.append(i % 2 ? el('mark', {}, decoder.value) : decoder.value);
      }
      const c = store.conversation(m.conversation_id);
      return el(
        'li',
        {},
        el(
          'button',
          { type: 'button', onclick: () => openConversation(m.conversation_id) },
          el('span', { class: 'name' }, c ? titleOf(c) : m.sender),
          el('span', {}, time(m.sent_at)),
          snippet,
        ),
      );
    });
    results.replaceChildren(
      ...(items.length ? items : [el('li', { class: 'preview' }, 'No messages found')]),
    );
  }

  // ---- Wiring --------------------------------------------------------------------------------
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  $('body').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === 'Escape') cancelComposerMode();
  });
  $('body').addEventListener('input', noteTyping);
  $('body').addEventListener('blur', stopTyping);
  $('composer-cancel').addEventListener('click', cancelComposerMode);
  $('attach').addEventListener('change', (e) => {
    sendFile(e.target.files[0]);
    e.target.value = '';
  });
  $('messages').addEventListener('scroll', () => {
    const list = $('messages');
    stickToBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (list.scrollTop < 60 && openId !== undefined) loadOlder(openId);
  });
  $('back').addEventListener('click', () => {
    $('chat').classList.remove('open');
    openId = undefined;
    renderInbox();
  });
  $('new-chat').addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = $('new-chat-user').value.trim();
    if (!user) return;
    try {
      // A direct chat exists from its first message; until then, find it in the inbox if it is there.
      const existing = store.conversations().find((c) => c.kind === 'direct' && c.peer === user);
      if (existing) return openConversation(existing.conversation_id);
      const m = await client.send_message({
        recipient: user,
        body: `👋 Hi ${user}!`,
        client_id: crypto.randomUUID(),
      });
      known.add(m.conversation_id);
      store.putConversations([await client.get_conversation({ conversation_id: m.conversation_id })]);
      $('new-chat-user').value = '';
      await openConversation(m.conversation_id);
    } catch (error) {
      showError(error);
    }
  });
  $('search').addEventListener('submit', (e) => {
    e.preventDefault();
    search($('search-query').value);
  });
  $('search-query').addEventListener('input', (e) => {
    if (e.target.value === '') search('');
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem('microchatter-demo-user');
    location.href = '/demo';
  });
  document.addEventListener('visibilitychange', markRead);

  store.subscribe((change) => {
    renderInbox();
    if (change.conversation_id === undefined || change.conversation_id === openId) renderConversation();
  });

  client.events(
    {
      onEvent(event) {
        if (event.type === 'conversation.read' && event.data.read_at) {
          const times = readTimes.get(event.data.conversation_id) ?? new Map();
          times.set(event.data.user, event.data.read_at);
          readTimes.set(event.data.conversation_id, times);
        }
        store.apply(event);
        const id = event.data?.conversation_id;
        if (typeof id === 'number' && event.type.startsWith('message.')) {
          learn(id);
          if (id === openId) markRead();
        }
      },
      async onReset() {
        // Events were lost: reload what is shown.
        histories.clear();
        known.clear();
        await loadInbox();
        if (openId !== undefined) await openConversation(openId);
      },
      onStatus(status) {
        const text =
          status.state === 'reconnecting'
            ? 'Reconnecting…'
            : status.state === 'connecting' && status.attempt > 1
              ? 'Reconnecting…'
              : '';
        $('connection').textContent = text;
        document.body.dataset.connection = status.state;
      },
    },
    { backoff: { initialMs: 500, maxMs: 5000 } },
  );
  loadInbox().then(renderInbox, showError);
}

// Sign-in: ?user=<id> or the form; remembered for this tab.
const params = new URLSearchParams(location.search);
const remembered = params.get('user') ?? sessionStorage.getItem('microchatter-demo-user');
if (remembered) {
  sessionStorage.setItem('microchatter-demo-user', remembered);
  start(remembered);
} else {
  $('signin-user').focus();
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const user = $('signin-user').value.trim();
    if (!user) return;
    sessionStorage.setItem('microchatter-demo-user', user);
    start(user);
  });
}
