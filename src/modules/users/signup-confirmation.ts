/**
 * Sign-up confirmed by email (SIGNUP_CONFIRMATION, on by default in production; README
 * "Security"). signUp must not tell who is registered, so with an email it answers one
 * {@link SignUpPending} whether the address is free or taken, after the same work (the password
 * is hashed either way), and the difference travels out of band, to the address itself:
 *
 * - free: a pending sign-up is stored (hashed password, display name, username, expiry; the
 *   token only as its hash) and the address gets a link; confirmSignUp creates the account;
 * - taken: nothing is stored, and the owner gets a notice that someone tried.
 *
 * Usernames are public handles (`user(username)` finds them), so a taken one is still CONFLICT
 * on the spot: that tells nothing about emails. A sign-up with no email (a username only) has no
 * address to confirm and stays immediate, as do addresses under the reserved `.invalid` TLD
 * (RFC 2606), which can receive no mail: the legacy shim's stand-ins for legacy names outside
 * the username rules, derived from those (public) names.
 */
import { builder } from '../../graphql/builder.js';
import { ConflictError, NotFoundError } from '../../graphql/errors.js';
import type { Context, Services } from '../../graphql/context.js';
import type { Prisma, PendingSignUp as PendingSignUpRow } from '../../generated/prisma/client.js';
import { randomToken, sha256 } from '../../auth/tokens.js';
import { usernameKey } from '../../graphql/validators.js';

/** Prefix of sign-up confirmation tokens, so a leaked one is recognizable (like rt_ and ck_). */
export const SIGNUP_TOKEN_PREFIX = 'su_';

const PENDING_MESSAGE =
  'If this address can be registered, a confirmation link was sent to it: follow it to finish signing up. ' +
  'If it already has an account, its owner was told instead.';

/** signUp's answer while the address confirms; the same for every address, free or taken. */
export class SignUpPending {
  readonly message = PENDING_MESSAGE;
  constructor(readonly expiresInSeconds: number) {}
}

export const SignUpPendingRef = builder.objectType(SignUpPending, {
  name: 'SignUpPending',
  description:
    'signUp with an email while the server confirms addresses (SIGNUP_CONFIRMATION): no account exists yet. The answer is the same ' +
    'whether the address is free (it was sent a confirmation link; confirmSignUp with its token creates the account) or already ' +
    'registered (its owner was sent a notice), so it tells nobody which addresses have accounts.',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What happened and what to do next, in English, to show the person signing up.' }),
    expiresInSeconds: t.exposeInt('expiresInSeconds', {
      description: 'How long the confirmation link stays valid (SIGNUP_CONFIRMATION_TTL_HOURS), in seconds.',
    }),
  }),
});

/** Thrown inside the transaction to undo it for a registered address (never escapes). */
const ROLL_BACK = Symbol('roll back');

/** Whether a sign-up with this email waits for the address to confirm (see the module's note). */
export function needsConfirmation(config: Services['config'], email: string | null | undefined): email is string {
  return config.SIGNUP_CONFIRMATION && !!email && !email.endsWith('.invalid');
}

/**
 * CONFLICT (field `username`) when someone holds the handle, now or on hold after a change. Checked
 * at signUp so the person learns at once; claimed only at confirmation, which checks again.
 */
export async function requireUsernameFree(db: Services['db'], name: string): Promise<void> {
  const held = await db.usernameClaim.findFirst({
    where: { key: usernameKey(name), OR: [{ heldUntil: null }, { heldUntil: { gt: new Date() } }] },
    select: { key: true },
  });
  if (held) throw new ConflictError('This username is taken; choose another.', 'username');
}

/**
 * The rest of a confirmed sign-up once the password is hashed: stores a pending sign-up and
 * mails the link for a free address, or mails the owner a notice for a registered one.
 */
export async function startPendingSignUp(
  ctx: Context,
  input: { email: string; username: string | null; displayName: string; passwordHash: string },
): Promise<SignUpPending> {
  const ttlMs = ctx.config.SIGNUP_CONFIRMATION_TTL_HOURS * 3_600_000;
  const hours = formatHours(ctx.config.SIGNUP_CONFIRMATION_TTL_HOURS);
  // Both cases run the same statements, a lookup and an insert in one transaction, which a
  // registered address then rolls back: only COMMIT and ROLLBACK differ, so the answer's timing
  // does not tell the two apart (an insert for free addresses alone was a 2-4 ms tell). The
  // COMMIT does not wait for the WAL flush either (a ROLLBACK never does): a crash may lose the
  // last moment's pending sign-ups, and their people sign up again.
  const token = randomToken(SIGNUP_TOKEN_PREFIX);
  let registered = false;
  try {
    await ctx.db.$transaction(async (tx) => {
      await tx.$executeRaw`SET LOCAL synchronous_commit = off`;
      registered = (await tx.user.findUnique({ where: { email: input.email }, select: { id: true } })) !== null;
      await tx.pendingSignUp.create({
        data: {
          tokenHash: sha256(token),
          email: input.email,
          username: input.username,
          passwordHash: input.passwordHash,
          displayName: input.displayName,
          expiresAt: new Date(Date.now() + ttlMs),
        },
        select: { id: true },
      });
      if (registered) throw ROLL_BACK;
    });
  } catch (err) {
    if (err !== ROLL_BACK) throw err;
  }
  if (registered) {
    ctx.mailer.send({
      to: input.email,
      kind: 'signUpAttempted',
      subject: 'Someone tried to sign up with your address',
      text:
        'Someone tried to sign up with this email address, which already has an account. If it was you, log in instead. ' +
        'If it was not, you need do nothing: no account was made and yours is unchanged.',
    });
  } else {
    const link = `${ctx.config.SIGNUP_CONFIRMATION_URL}${ctx.config.SIGNUP_CONFIRMATION_URL.includes('?') ? '&' : '?'}token=${token}`;
    ctx.mailer.send({
      to: input.email,
      kind: 'signUpConfirmation',
      subject: 'Confirm your sign-up',
      text:
        `Someone (we hope you) asked to sign up with this email address. To finish, open this link within ${hours}:\n\n${link}\n\n` +
        'If it was not you, ignore this message: no account is made without it.',
      link,
    });
  }
  return new SignUpPending(Math.round(ttlMs / 1000));
}

/**
 * Takes the pending sign-up a token names, inside the caller's transaction: the row and every
 * other pending sign-up of the same address are deleted (a link works once, and older links die
 * with it), so a rolled-back account creation leaves them as they were. NOT_FOUND, one answer for
 * an unknown, used or expired token.
 */
export async function takePendingSignUp(tx: Prisma.TransactionClient, token: string): Promise<PendingSignUpRow> {
  const gone = () => new NotFoundError('SignUp', 'This confirmation link is unknown, already used or expired; sign up again.');
  const pending = await tx.pendingSignUp.findUnique({ where: { tokenHash: sha256(token) } });
  if (!pending || pending.expiresAt.getTime() <= Date.now()) throw gone();
  // The delete decides between two confirmations of one token racing: the second deletes nothing.
  const { count } = await tx.pendingSignUp.deleteMany({ where: { id: pending.id } });
  if (count !== 1) throw gone();
  await tx.pendingSignUp.deleteMany({ where: { email: pending.email } });
  return pending;
}

function formatHours(hours: number): string {
  if (hours < 1) return `${Math.max(1, Math.round(hours * 60))} minutes`;
  return hours === 1 ? '1 hour' : `${Number(hours.toFixed(1))} hours`;
}

/**
 * Expired pending sign-ups are dead weight (their links are refused anyway): pruned hourly.
 * Started by app.ts; returns how to stop.
 */
export function startPendingSignUpPruner(services: Services): () => void {
  const prune = () =>
    services.db.pendingSignUp
      .deleteMany({ where: { expiresAt: { lt: new Date() } } })
      .catch((err: unknown) => services.logger.warn({ err }, 'pruning expired pending sign-ups failed'));
  const timer = setInterval(prune, 3_600_000);
  timer.unref();
  return () => clearInterval(timer);
}
