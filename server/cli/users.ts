/** `create-user`: one user through chat_admin.create_user, with the password typed at a prompt. */
import type { Sql } from '../db.ts';

/** Reads a line from the terminal without echoing it. */
function readHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  input.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      input.removeListener('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') return finish(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    input.on('data', onData);
  });
}

/** The first line of standard input, for scripts: `echo "$PASSWORD" | microchatter create-user …`. */
async function readFirstLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/** On a terminal: asked twice, hidden. Otherwise: the first line of standard input. */
export async function promptPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const password = await readFirstLine();
    if (password === '') throw new Error('--password-prompt: standard input holds no password line');
    return password;
  }
  const password = await readHidden('Password: ');
  if (password === '') throw new Error('the password is empty');
  if ((await readHidden('Repeat the password: ')) !== password) throw new Error('the passwords differ');
  return password;
}

export interface NewUser {
  userId: string;
  displayName: string | undefined;
  password: string | undefined;
}

export async function createUser(sql: Sql, user: NewUser): Promise<{ user_id: string }> {
  const [profile] = await sql<{ user_id: string }[]>`
    select * from chat_admin.create_user(
      user_id => ${user.userId},
      display_name => ${user.displayName ?? null},
      password => ${user.password ?? null}
    )`;
  if (!profile) throw new Error('unreachable: create_user returned no row');
  return profile;
}
