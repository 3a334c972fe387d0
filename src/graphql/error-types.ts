/** The GraphQL face of graphql/errors.ts: one `Error` interface and a type per error class. */
import { builder } from './builder.js';
import {
  AppError,
  ClaimHeldError,
  ConflictError,
  errorCodes,
  ForbiddenError,
  InvalidCredentialsError,
  NotFoundError,
  UnauthenticatedError,
  ValidationError,
  type ErrorCode,
  type ValidationIssue,
} from './errors.js';

export const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'A machine-readable error code; the same value appears in `extensions.code` of GraphQL errors.',
  values: Object.fromEntries(
    Object.entries(errorCodes).map(([code, description]) => [code, { value: code as ErrorCode, description }]),
  ) as Record<ErrorCode, { value: ErrorCode; description: string }>,
});

export const ErrorInterface = builder.interfaceRef<AppError>('Error').implement({
  description: 'An expected failure, returned as a member of a mutation result union.',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What went wrong and what to do next, in English.' }),
    code: t.field({ type: ErrorCodeEnum, description: 'The machine-readable code.', resolve: (e) => e.code }),
  }),
});

builder.objectType(AppError, {
  name: 'BaseError',
  description: 'An expected failure with no further detail than its code and message.',
  interfaces: [ErrorInterface],
});

const ValidationIssueRef = builder.objectRef<ValidationIssue>('ValidationIssue').implement({
  description: 'One problem with the input.',
  fields: (t) => ({
    path: t.exposeStringList('path', { description: 'Where in the input, e.g. ["input", "email"].' }),
    message: t.exposeString('message', { description: 'What is wrong there.' }),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'The input is invalid; nothing was changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    issues: t.field({ type: [ValidationIssueRef], description: 'Each problem found.', resolve: (e) => e.issues }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'No such object, or not one the viewer may see; nothing was changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    entity: t.exposeString('entity', { description: 'The kind of object looked for, e.g. "Workspace".' }),
  }),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  description: 'The request clashes with existing data; nothing was changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    field: t.exposeString('field', { nullable: true, description: 'The input field in conflict, when one is.' }),
  }),
});

builder.objectType(ClaimHeldError, {
  name: 'ClaimHeldError',
  description: 'Another agent holds a claim on this conversation or message; nothing was changed. Wait for it to lapse or be released.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    holderId: t.exposeID('holderId', { description: 'Who holds it.' }),
    holderName: t.exposeString('holderName', { description: 'Their display name.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When their claim lapses unless renewed.', resolve: (e) => e.expiresAt }),
    messageId: t.exposeID('messageId', { nullable: true, description: 'The message claimed; null for the whole conversation.' }),
  }),
});

builder.objectType(UnauthenticatedError, {
  name: 'UnauthenticatedError',
  description: 'No valid credential; sign in or renew the access token.',
  interfaces: [ErrorInterface],
});

builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  description: 'The viewer may not do this.',
  interfaces: [ErrorInterface],
});

builder.objectType(InvalidCredentialsError, {
  name: 'InvalidCredentialsError',
  description: 'The email or password is wrong; which one is not said.',
  interfaces: [ErrorInterface],
});
