/**
 * Attachments end to end over real HTTP: GraphQL multipart uploads built by the spec
 * (https://github.com/jaydenseric/graphql-multipart-request-spec) with fetch + FormData and, where
 * the test must control the stream, with node:http; downloads from /files/<id>; what is left on
 * disk after refusals and failures.
 *
 * The server runs with small limits (1 MiB a file, 3 files a request) so over-limit uploads are
 * quick; the 25 MB memory figure is measured by `npm run bench` (bench/upload-memory.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { ResultOf } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legacyFileSize } from '../src/compat/formats.js';
import { sweepOrphanFiles } from '../src/modules/attachments/sweep.js';
import { graphql } from './gql/index.js';
import { collect, startTestApp, until, type TestApp } from './helpers/app.js';
import { expectNoStrayFiles, png, storedFiles } from './helpers/files.js';
import { person, workspace, type Person } from './helpers/fixtures.js';

const MAX_FILE = 1024 * 1024;

const SendAttachment = graphql(`
  mutation AttSend($input: SendAttachmentInput!) {
    sendAttachment(input: $input) {
      __typename
      ... on Message {
        id
        seq
        kind
        body
        attachments {
          id
          name
          size
          contentType
          sha256
          width
          height
          inline
          url
          signedUrl
        }
      }
      ... on Error {
        code
        message
      }
      ... on ValidationError {
        issues {
          path
          message
        }
      }
    }
  }
`);

const OpenDirect = graphql(`
  mutation AttOpenDirect($workspaceId: ID!, $userId: ID!) {
    openDirectThread(workspaceId: $workspaceId, userId: $userId) {
      __typename
      ... on Thread {
        id
      }
      ... on Error {
        message
      }
    }
  }
`);

const History = graphql(`
  query AttHistory($id: ID!) {
    conversation(id: $id) {
      lastSeq
      messages(last: 10) {
        nodes {
          id
          seq
          kind
          attachments {
            id
            name
            size
            contentType
            url
          }
        }
      }
    }
  }
`);

const Events = graphql(`
  subscription AttEvents($id: ID!, $after: Int) {
    conversationEvents(conversationId: $id, after: $after) {
      type
      seq
      message {
        id
        kind
        body
        attachments {
          id
          name
          size
          contentType
          sha256
          url
        }
      }
    }
  }
`);

const Announce = graphql(`
  mutation AttAnnounce($id: ID!) {
    announceMessage(id: $id) {
      __typename
      ... on Message {
        id
        seq
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const DeleteMessage = graphql(`
  mutation AttDelete($id: ID!) {
    deleteMessage(id: $id) {
      __typename
    }
  }
`);

const Limits = graphql(`
  query AttLimits {
    uploadLimits {
      maxFileBytes
      maxFiles
      allowedTypes
    }
  }
`);

// ---------------------------------------------------------------------------------------------
// Files to upload


const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface OutFile {
  name: string;
  type: string;
  bytes: Buffer;
}

// ---------------------------------------------------------------------------------------------
// Requests built by the GraphQL multipart request spec

function operations(input: Record<string, unknown>, count: number) {
  return {
    query: print(SendAttachment),
    operationName: 'AttSend',
    variables: { input: { ...input, files: Array.from({ length: count }, () => null) } },
  };
}

function fileMap(count: number): Record<string, string[]> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [String(i), [`variables.input.files.${i}`]]));
}

/** What Apollo's and urql's upload clients send: operations, map, then the files, with the CSRF header. */
async function upload(
  token: string | undefined,
  input: Record<string, unknown>,
  files: OutFile[],
  headers: Record<string, string> = { 'apollo-require-preflight': 'true' },
) {
  const form = new FormData();
  form.set('operations', JSON.stringify(operations(input, files.length)));
  form.set('map', JSON.stringify(fileMap(files.length)));
  files.forEach((f, i) => form.set(String(i), new Blob([new Uint8Array(f.bytes)], { type: f.type }), f.name));
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: form,
  });
  const json = (await res.json()) as { data?: { sendAttachment: Sent }; errors?: { message: string; extensions?: { code?: string } }[] };
  return { status: res.status, ...json };
}

type Sent = ResultOf<typeof SendAttachment>['sendAttachment'];

function asMessage(result: { data?: { sendAttachment: Sent } }) {
  const m = result.data?.sendAttachment;
  if (m?.__typename !== 'Message') throw new Error(`not a message: ${JSON.stringify(result)}`);
  return m;
}

/**
 * A multipart upload over node:http that sends `sendBytes` of a file declared much larger and then
 * waits: the server must answer before the client has sent the whole file.
 */
function partialUpload(
  token: string,
  input: Record<string, unknown>,
  file: { name: string; type: string; declaredBytes: number; sendBytes: number },
): { req: http.ClientRequest; response: Promise<{ status: number; body: string }> } {
  const boundary = `----test${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify(operations(input, 1))}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n${JSON.stringify(fileMap(1))}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const req = http.request(`${t.url}/graphql`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'apollo-require-preflight': 'true',
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + file.declaredBytes + tail.length),
      },
    });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
  req.write(head);
    // Text, so that the type check lets it through and only the size can stop it.
    const chunk = Buffer.from(randomBytes(32 * 1024).toString('hex'));
    let sent = 0;
    const pump = () => {
      while (sent < file.sendBytes) {
        const piece = chunk.subarray(0, Math.min(chunk.length, file.sendBytes - sent));
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      // Stop here, the file unfinished: only an answer given while streaming resolves this promise.
    };
  pump();
  return { req, response };
}

// ---------------------------------------------------------------------------------------------

let t: TestApp;
let filesRoot: string;

let alice: Person;
let bob: Person;
let admin: Person;
let threadId: string;

beforeAll(async () => {
  t = await startTestApp({ UPLOAD_MAX_FILE_BYTES: String(MAX_FILE), UPLOAD_MAX_FILES: '3' });
  filesRoot = path.resolve(t.db.dataDir, 'files');
  const ws = await workspace(t, { alice: 'CLIENT', bob: 'AGENT' });
  alice = ws.people.alice!;
  bob = ws.people.bob!;
  admin = ws.admin;
  const res = await t.exec(OpenDirect, { workspaceId: ws.id, userId: bob.id }, { token: alice.token });
  const thread = res.data!.openDirectThread;
  if (thread.__typename !== 'Thread') throw new Error(JSON.stringify(res));
  threadId = thread.id;
});

afterAll(async () => {
  await t?.close();
});

async function lastSeq(): Promise<number> {
  return (await t.app.services.db.conversation.findUniqueOrThrow({ where: { id: threadId }, select: { lastSeq: true } })).lastSeq;
}

async function download(url: string, token?: string) {
  const res = await fetch(`${t.url}${url}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe('uploading by the GraphQL multipart request spec', () => {
  it('creates one message whose attachments the other member downloads byte for byte, and subscribers get it whole', async () => {
    const picture = png(320, 200);
    const notes = Buffer.from('Meeting notes\n- ship it\n', 'utf8');
    const bobClient = t.ws({ token: bob.token });
    // From the current seq: whatever comes later arrives, by replay or live, exactly once.
    const events = collect(bobClient, Events, { id: threadId, after: await lastSeq() });

    const res = await upload(alice.token, { conversationId: threadId, body: 'the plan', clientMessageId: 'att-1' }, [
      { name: 'plan.png', type: 'image/png', bytes: picture },
      { name: 'notes.txt', type: 'text/plain', bytes: notes },
    ]);
    expect(res.status).toBe(200);
    const message = asMessage(res);
    expect(message).toMatchObject({ kind: 'FILE', body: 'the plan' });
    expect(message.attachments).toMatchObject([
      { name: 'plan.png', size: picture.length, contentType: 'image/png', sha256: sha256(picture), width: 320, height: 200, inline: true },
      { name: 'notes.txt', size: notes.length, contentType: 'text/plain', sha256: sha256(notes), width: null, height: null, inline: false },
    ]);

    // The other member downloads both, byte for byte, with the Authorization header.
    const [img, txt] = message.attachments;
    const got = await download(img!.url, bob.token);
    expect(got.res.status).toBe(200);
    expect(got.bytes.equals(picture)).toBe(true);
    expect(got.res.headers.get('content-type')).toBe('image/png');
    expect(got.res.headers.get('content-disposition')).toMatch(/^inline; filename="plan.png"/);
    expect(got.res.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = got.res.headers.get('etag');
    expect(etag).toBe(`"${sha256(picture)}"`);
    const again = await fetch(`${t.url}${img!.url}`, { headers: { authorization: `Bearer ${bob.token}`, 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    const gotText = await download(txt!.url, bob.token);
    expect(gotText.bytes.equals(notes)).toBe(true);
    expect(gotText.res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(gotText.res.headers.get('content-disposition')).toMatch(/^attachment; filename="notes.txt"/);

    // The signed URL works without a header (for <img src>); a tampered one does not.
    const signed = await download(img!.signedUrl);
    expect(signed.res.status).toBe(200);
    expect(signed.bytes.equals(picture)).toBe(true);
    // Another first character of the signature (a fixed one would be the same one time in 64).
    const tampered = img!.signedUrl.replace(/signature=(.)/, (_all, first: string) => `signature=${first === 'A' ? 'B' : 'A'}`);
    expect(tampered).not.toBe(img!.signedUrl);
    expect((await download(tampered)).res.status).toBe(404);
    expect((await download(img!.signedUrl.replace(/expires=\d+/, 'expires=9999999999'))).res.status).toBe(404);

    // Live: the event carries the whole message with its attachments (no query needed).
    const [event] = await events.next(1);
    expect(event!.data!.conversationEvents).toMatchObject({
      type: 'MESSAGE_ADDED',
      seq: message.seq,
      message: { id: message.id, kind: 'FILE', attachments: [{ id: img!.id, sha256: sha256(picture) }, { id: txt!.id }] },
    });
    events.dispose();

    // History has them too.
    const history = await t.exec(History, { id: threadId }, { token: bob.token });
    const last = history.data!.conversation.messages.nodes.at(-1)!;
    expect(last).toMatchObject({ id: message.id, attachments: [{ id: img!.id, name: 'plan.png' }, { id: txt!.id, name: 'notes.txt' }] });
    await expectNoStrayFiles(t);
  });

  it('makes an image-only message an IMAGE message, and a retry with the same clientMessageId stores nothing new', async () => {
    const picture = png(40, 30);
    const first = asMessage(await upload(alice.token, { conversationId: threadId, clientMessageId: 'img-1' }, [
      { name: 'a.png', type: 'image/png', bytes: picture },
    ]));
    expect(first).toMatchObject({ kind: 'IMAGE', body: '', attachments: [{ width: 40, height: 30 }] });
    const again = asMessage(await upload(alice.token, { conversationId: threadId, clientMessageId: 'img-1' }, [
      { name: 'a.png', type: 'image/png', bytes: picture },
    ]));
    expect(again.id).toBe(first.id);
    expect(await t.app.services.db.attachment.count({ where: { sha256: sha256(picture) } })).toBe(1);
    await expectNoStrayFiles(t);
  });

  it('tells clients its limits', async () => {
    const res = await t.exec(Limits, {}, { token: alice.token });
    expect(res.data!.uploadLimits).toMatchObject({ maxFileBytes: MAX_FILE, maxFiles: 3 });
    expect(res.data!.uploadLimits.allowedTypes).toContain('image/*');
  });
});

describe('refusing or neutralising what must not be stored or served as sent', () => {
  it('refuses a file over the size limit while it streams, before the client has sent it all; no file, no message', async () => {
    const before = await lastSeq();
    // 3 MiB declared, 1.5 MiB sent, then the client waits: only an answer given mid-stream ends this.
    const { req, response } = partialUpload(alice.token, { conversationId: threadId }, {
      name: 'big.txt',
      type: 'text/plain',
      declaredBytes: 3 * MAX_FILE,
      sendBytes: 1.5 * MAX_FILE,
    });
    const { status, body } = await response;
    req.destroy();
    expect(status).toBe(200);
    const result = JSON.parse(body).data.sendAttachment;
    expect(result).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    expect(result.issues[0]).toMatchObject({ path: ['input', 'files', '0'] });
    expect(result.issues[0].message).toMatch(/larger than the 1 MB limit/);

    // A body declared larger than every file allowed together is refused before a byte is read.
    const huge = partialUpload(alice.token, { conversationId: threadId }, {
      name: 'huge.txt',
      type: 'text/plain',
      declaredBytes: 50 * MAX_FILE,
      sendBytes: 64 * 1024,
    });
    const hugeAnswer = await huge.response;
    huge.req.destroy();
    expect(hugeAnswer.status).toBe(413);
    expect(await lastSeq()).toBe(before);
    await until(() => storedFiles(t).every((f) => !f.endsWith('.part')));
    await expectNoStrayFiles(t);
  });

  it('refuses a file exactly one byte over the limit, and accepts one at the limit', async () => {
    const over = await upload(alice.token, { conversationId: threadId }, [
      { name: 'over.txt', type: 'text/plain', bytes: Buffer.alloc(MAX_FILE + 1, 0x61) },
    ]);
    expect(over.data!.sendAttachment).toMatchObject({ __typename: 'ValidationError' });
    const at = asMessage(await upload(alice.token, { conversationId: threadId }, [
      { name: 'at.txt', type: 'text/plain', bytes: Buffer.alloc(MAX_FILE, 0x61) },
    ]));
    expect(at.attachments[0]!.size).toBe(MAX_FILE);
    await expectNoStrayFiles(t);
  });

  it('refuses more files than a request may carry (413), storing none', async () => {
    const before = await lastSeq();
    const files = Array.from({ length: 4 }, (_, i) => ({ name: `f${i}.txt`, type: 'text/plain', bytes: Buffer.from(`file ${i}\n`) }));
    const res = await upload(alice.token, { conversationId: threadId }, files);
    expect(res.status).toBe(413);
    expect(res.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(res.errors![0]!.message).toMatch(/at most 3 files/);
    expect(await lastSeq()).toBe(before);
    await expectNoStrayFiles(t);
  });

  it('keeps only the last segment of a name like ../../etc/passwd, and stores the bytes under a generated id', async () => {
    const bytes = Buffer.from('root:x:0:0:root:/root:/bin/bash\n');
    const message = asMessage(await upload(alice.token, { conversationId: threadId }, [{ name: '../../etc/passwd', type: 'text/plain', bytes }]));
    const [att] = message.attachments;
    expect(att!.name).toBe('passwd');
    for (const escaped of [path.resolve(filesRoot, '../../etc/passwd'), path.resolve(filesRoot, '../etc/passwd'), path.resolve(filesRoot, 'etc/passwd')]) {
      expect(existsSync(escaped)).toBe(false);
    }
    expect(storedFiles(t)).toContain(path.join(att!.id.slice(0, 2), att!.id));
    const got = await download(att!.url, bob.token);
    expect(got.bytes.equals(bytes)).toBe(true);
    expect(got.res.headers.get('content-disposition')).toMatch(/^attachment; filename="passwd"/);
    await expectNoStrayFiles(t);
  });

  it('records a PNG declared as text/html as the PNG it is', async () => {
    const picture = png(16, 16);
    const message = asMessage(await upload(alice.token, { conversationId: threadId }, [{ name: 'page.html', type: 'text/html', bytes: picture }]));
    expect(message.attachments[0]).toMatchObject({ contentType: 'image/png', width: 16, height: 16 });
    const got = await download(message.attachments[0]!.url, bob.token);
    expect(got.res.headers.get('content-type')).toBe('image/png');
    expect(got.res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(got.bytes.equals(picture)).toBe(true);
  });

  it('serves an HTML file as plain text to download, never as a page', async () => {
    const html = Buffer.from('<!DOCTYPE html><html><body><script>fetch("/graphql")</script></body></html>\n');
    const message = asMessage(await upload(alice.token, { conversationId: threadId }, [{ name: 'evil.html', type: 'text/html', bytes: html }]));
    expect(message).toMatchObject({ kind: 'FILE', attachments: [{ contentType: 'text/plain', inline: false }] });
    const got = await download(message.attachments[0]!.url, bob.token);
    expect(got.res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(got.res.headers.get('content-disposition')).toMatch(/^attachment;/);
    expect(got.res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(got.res.headers.get('content-security-policy')).toContain('sandbox');
    expect(got.bytes.equals(html)).toBe(true);
  });

  it('refuses a type not allowed (a Windows executable declared as a PNG) and an empty file; nothing stored', async () => {
    const before = await lastSeq();
    const exe = Buffer.concat([Buffer.from('MZ'), randomBytes(70 * 1024)]);
    const refused = await upload(alice.token, { conversationId: threadId }, [
      { name: 'ok.txt', type: 'text/plain', bytes: Buffer.from('fine\n') },
      { name: 'cat.png', type: 'image/png', bytes: exe },
    ]);
    expect(refused.data!.sendAttachment).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ path: ['input', 'files', '1'], message: expect.stringMatching(/type that is not allowed \(application\/x-msdownload\)/) }],
    });
    const empty = await upload(alice.token, { conversationId: threadId }, [{ name: 'empty.txt', type: 'text/plain', bytes: Buffer.alloc(0) }]);
    expect(empty.data!.sendAttachment).toMatchObject({ __typename: 'ValidationError', issues: [{ message: 'is empty' }] });
    expect(await lastSeq()).toBe(before);
    await expectNoStrayFiles(t);
  });

  it('refuses one file mapped to two variables rather than failing unexpectedly', async () => {
    const before = await lastSeq();
    const form = new FormData();
    form.set('operations', JSON.stringify(operations({ conversationId: threadId }, 2)));
    form.set('map', JSON.stringify({ 0: ['variables.input.files.0', 'variables.input.files.1'] }));
    form.set('0', new Blob([new Uint8Array(Buffer.from('twice\n'))], { type: 'text/plain' }), 'twice.txt');
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'apollo-require-preflight': 'true' },
      body: form,
    });
    const body = (await res.json()) as { data: { sendAttachment: Sent } };
    expect(body.data.sendAttachment).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['input', 'files', '1'] }] });
    expect(await lastSeq()).toBe(before);
    await expectNoStrayFiles(t);
  });

  it('refuses a multipart request without a CSRF preflight header (403), reading nothing', async () => {
    const before = await lastSeq();
    const res = await upload(alice.token, { conversationId: threadId }, [{ name: 'x.txt', type: 'text/plain', bytes: Buffer.from('x\n') }], {});
    expect(res.status).toBe(403);
    expect(res.errors![0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(res.errors![0]!.message).toMatch(/Apollo-Require-Preflight/);
    // Any header of Yoga's or Apollo's CSRF prevention is enough.
    const yoga = await upload(alice.token, { conversationId: threadId }, [{ name: 'y.txt', type: 'text/plain', bytes: Buffer.from('y\n') }], {
      'x-graphql-yoga-csrf': '1',
    });
    expect(yoga.status).toBe(200);
    expect(asMessage(yoga).seq).toBe(before + 1);
    // The other simple content types a form can send are refused alike.
    const form = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: '{ uploadLimits { maxFiles } }' }),
    });
    expect(form.status).toBe(403);
    await expectNoStrayFiles(t);
  });

  it('leaves no file and no message when the client goes away mid-upload', async () => {
    const before = await lastSeq();
    const { req, response } = partialUpload(alice.token, { conversationId: threadId }, {
      name: 'half.txt',
      type: 'text/plain',
      declaredBytes: MAX_FILE - 10,
      sendBytes: MAX_FILE / 2,
    });
    response.catch(() => undefined);
    // Let the server start writing the file, then cut the connection.
    await until(() => storedFiles(t).some((f) => f.endsWith('.part')));
    req.destroy();
    await until(() => storedFiles(t).every((f) => !f.endsWith('.part')));
    expect(await lastSeq()).toBe(before);
    await expectNoStrayFiles(t);
  });
});

describe('downloading', () => {
  let url: string;
  let id: string;
  beforeAll(async () => {
    const message = asMessage(await upload(alice.token, { conversationId: threadId }, [{ name: 'secret.txt', type: 'text/plain', bytes: Buffer.from('secret\n') }]));
    url = message.attachments[0]!.url;
    id = message.attachments[0]!.id;
  });

  it('gives 404 to anyone who may not read the conversation, as for an id that does not exist', async () => {
    expect((await download(url, bob.token)).res.status).toBe(200);
    // An admin of the workspace does not read a one-to-one thread they are not part of.
    expect((await download(url, admin.token)).res.status).toBe(404);
    const outsider = await person(t, 'outsider');
    const outsiderGot = await download(url, outsider.token);
    expect(outsiderGot.res.status).toBe(404);
    expect(outsiderGot.bytes.toString()).not.toContain('secret');
    expect((await download(url)).res.status).toBe(404);
    expect((await download('/files/8a0c0d3e-1111-4222-8333-944455556666', bob.token)).res.status).toBe(404);
    expect((await download('/files/../../etc/passwd', bob.token)).res.status).toBe(404);
    // A credential presented but bad is told so, as on /graphql.
    expect((await download(url, 'not-a-token')).res.status).toBe(401);
    expect(id).toBeTruthy();
  });

  it('refuses uploads from anyone who may not write the conversation, storing nothing', async () => {
    const before = await lastSeq();
    const file = [{ name: 'x.txt', type: 'text/plain', bytes: Buffer.from('x\n') }];
    expect((await upload(admin.token, { conversationId: threadId }, file)).data!.sendAttachment).toMatchObject({ code: 'NOT_FOUND' });
    expect((await upload(undefined, { conversationId: threadId }, file)).data!.sendAttachment).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await lastSeq()).toBe(before);
    await expectNoStrayFiles(t);
  });

  it('stops serving a deleted message’s files', async () => {
    const message = asMessage(await upload(alice.token, { conversationId: threadId }, [{ name: 'gone.txt', type: 'text/plain', bytes: Buffer.from('gone\n') }]));
    const signed = message.attachments[0]!.signedUrl;
    expect((await download(message.attachments[0]!.url, bob.token)).res.status).toBe(200);
    const del = await t.exec(DeleteMessage, { id: message.id }, { token: alice.token });
    expect(del.data!.deleteMessage.__typename).toBe('Message');
    expect((await download(message.attachments[0]!.url, bob.token)).res.status).toBe(404);
    expect((await download(signed)).res.status).toBe(404);
  });
});

describe('legacy 004: upload, then announce', () => {
  it('re-publishes the author’s message on announce; subscribers drop the duplicate; others may not announce', async () => {
    const bobClient = t.ws({ token: bob.token });
    const events = collect(bobClient, Events, { id: threadId, after: await lastSeq() });
    const raw = t.app.services.pubsub.subscribe('conversation', threadId);
    const rawEvents: unknown[] = [];
    const reading = (async () => {
      for await (const e of raw) rawEvents.push(e);
    })();
    // Live once the channel is subscribed (a Redis SUBSCRIBE acknowledged on the second setup).
    await t.app.services.pubsub.whenSubscribed(raw);

    const bytes = Buffer.from('%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n');
    const message = asMessage(await upload(alice.token, { conversationId: threadId, body: 'Hello, this is my message' }, [
      { name: 'report.pdf', type: 'application/pdf', bytes },
    ]));
    expect(message.attachments[0]).toMatchObject({ contentType: 'application/pdf', size: bytes.length });
    expect(legacyFileSize(message.attachments[0]!.size)).toBe(`${(bytes.length / 1024).toFixed(2)}KB`);

    const first = await t.exec(Announce, { id: message.id }, { token: alice.token });
    expect(first.data!.announceMessage).toMatchObject({ __typename: 'Message', id: message.id, seq: message.seq });
    const second = await t.exec(Announce, { id: message.id }, { token: alice.token });
    expect(second.data!.announceMessage.__typename).toBe('Message');
    await until(() => rawEvents.length >= 3);
    expect(rawEvents).toHaveLength(3);
    for (const e of rawEvents) {
      expect(e).toMatchObject({ type: 'MESSAGE_ADDED', seq: message.seq, message: { id: message.id, attachments: [{ name: 'report.pdf' }] } });
    }
    await events.next(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(events.results).toHaveLength(1);
    events.dispose();
    await raw.return?.();
    await reading;

    expect((await t.exec(Announce, { id: message.id }, { token: bob.token })).data!.announceMessage).toMatchObject({ code: 'FORBIDDEN' });
    expect((await t.exec(Announce, { id: message.id }, { token: admin.token })).data!.announceMessage).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('formats sizes as legacy 004 did', () => {
    expect(legacyFileSize(88_812)).toBe('86.73KB');
    expect(legacyFileSize(0)).toBe('0kb');
    expect(legacyFileSize(3 * 1024 * 1024)).toBe('3.00MB');
  });
});

describe('sweeping', () => {
  it('removes stored bytes no message holds (pending rows, orphans) and keeps the rest', async () => {
    const { storage, db } = t.app.services;
    const kept = storedFiles(t).length;
    const orphan = '0e7f6a3c-5a1b-4c2d-8e9f-0a1b2c3d4e5f';
    await storage.put(orphan, (await import('node:stream')).Readable.from([Buffer.from('orphan')]));
    const pending = '1e7f6a3c-5a1b-4c2d-8e9f-0a1b2c3d4e5f';
    await storage.put(pending, (await import('node:stream')).Readable.from([Buffer.from('pending')]));
    await db.attachment.create({
      data: { id: pending, conversationId: threadId, name: 'p.txt', size: 7, contentType: 'text/plain', sha256: 'x', createdAt: new Date(Date.now() - 1000) },
    });
    expect(storedFiles(t)).toHaveLength(kept + 2);
    const { removed } = await sweepOrphanFiles(t.app.services, -1000);
    expect(removed).toBe(2);
    expect(storedFiles(t)).toHaveLength(kept);
    await expectNoStrayFiles(t);
  });

  it('removes a partial file a stopped process left mid-upload, and keeps one still being written', async () => {
    const root = path.resolve(t.db.dataDir, 'files');
    const left = path.join(root, '2e', '2e7f6a3c-5a1b-4c2d-8e9f-0a1b2c3d4e5f.part');
    const writing = path.join(root, '3e', '3e7f6a3c-5a1b-4c2d-8e9f-0a1b2c3d4e5f.part');
    // Not a name storage gives: never touched.
    const foreign = path.join(root, '2e', 'notes.part');
    for (const file of [left, writing, foreign]) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, 'half');
    }
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(left, twoHoursAgo, twoHoursAgo);
    utimesSync(foreign, twoHoursAgo, twoHoursAgo);
    const { removed } = await sweepOrphanFiles(t.app.services);
    expect(removed).toBe(1);
    expect(existsSync(left)).toBe(false);
    expect(existsSync(writing)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
    rmSync(writing);
    rmSync(foreign);
    await expectNoStrayFiles(t);
  });
});

describe('at the default limits', () => {
  it('accepts a file of the full 25 MB (more than Yoga’s own 25,000,000-byte body limit) and serves it back whole', async () => {
    const big = await startTestApp();
    try {
      const ws = await workspace(big, { carol: 'CLIENT' });
      const res = await big.exec(OpenDirect, { workspaceId: ws.id, userId: ws.people.carol!.id }, { token: ws.admin.token });
      const thread = res.data!.openDirectThread;
      if (thread.__typename !== 'Thread') throw new Error(JSON.stringify(res));
      const bytes = Buffer.alloc(25 * 1024 * 1024, 'All work and no play makes Jack a dull boy.\n');
      const form = new FormData();
      form.set('operations', JSON.stringify(operations({ conversationId: thread.id }, 1)));
      form.set('map', JSON.stringify(fileMap(1)));
      form.set('0', new Blob([new Uint8Array(bytes)], { type: 'text/plain' }), 'jack.txt');
      const sent = await fetch(`${big.url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ws.admin.token}`, 'apollo-require-preflight': 'true' },
        body: form,
      });
      const message = asMessage((await sent.json()) as { data?: { sendAttachment: Sent } });
      expect(message.attachments[0]).toMatchObject({ size: bytes.length, sha256: sha256(bytes), contentType: 'text/plain' });
      const got = await fetch(`${big.url}${message.attachments[0]!.url}`, { headers: { authorization: `Bearer ${ws.people.carol!.token}` } });
      expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(bytes));
    } finally {
      await big.close();
    }
  });
});
