/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Legacy003Me {\n    me {\n      id\n      displayName\n    }\n  }\n": typeof types.Legacy003MeDocument,
    "\n  mutation ConvCreateRoom($input: CreateRoomInput!) {\n    createRoom(input: $input) {\n      __typename\n      ... on Room {\n        id\n        roomType\n        members {\n          user {\n            id\n          }\n          role\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.ConvCreateRoomDocument,
    "\n  mutation ConvSend($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      __typename\n      ... on Message {\n        id\n        seq\n        body\n        author {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n      ... on ValidationError {\n        issues {\n          path\n          message\n        }\n      }\n    }\n  }\n": typeof types.ConvSendDocument,
    "\n  query ConvHistory($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {\n    conversation(id: $id) {\n      id\n      lastSeq\n      viewerUnreadCount\n      messages(first: $first, after: $after, last: $last, before: $before) {\n        edges {\n          cursor\n          node {\n            seq\n            body\n          }\n        }\n        pageInfo {\n          hasNextPage\n          hasPreviousPage\n          endCursor\n          startCursor\n        }\n      }\n    }\n  }\n": typeof types.ConvHistoryDocument,
    "\n  subscription ConvEvents($id: ID!, $after: Int) {\n    conversationEvents(conversationId: $id, after: $after) {\n      type\n      seq\n      userId\n      message {\n        id\n        seq\n        body\n      }\n    }\n  }\n": typeof types.ConvEventsDocument,
    "\n  mutation ConvEdit($id: ID!, $body: String!) {\n    editMessage(id: $id, body: $body) {\n      __typename\n      ... on Message {\n        body\n        editedAt\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.ConvEditDocument,
    "\n  mutation ConvRemoveMember($conversationId: ID!, $userId: ID!) {\n    removeConversationMember(conversationId: $conversationId, userId: $userId) {\n      __typename\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.ConvRemoveMemberDocument,
    "\n  mutation ConvOpenDirect($workspaceId: ID!, $userId: ID!) {\n    openDirectThread(workspaceId: $workspaceId, userId: $userId) {\n      __typename\n      ... on Thread {\n        id\n        direct\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.ConvOpenDirectDocument,
    "\n  mutation FixtureSignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": typeof types.FixtureSignUpDocument,
    "\n  mutation FixtureCreateWorkspace($name: String!) {\n    createWorkspace(input: { name: $name }) {\n      __typename\n      ... on Workspace {\n        id\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": typeof types.FixtureCreateWorkspaceDocument,
    "\n  mutation FixtureAddMember($input: AddWorkspaceMemberInput!) {\n    addWorkspaceMember(input: $input) {\n      __typename\n      ... on Error {\n        message\n      }\n    }\n  }\n": typeof types.FixtureAddMemberDocument,
    "\n  mutation FixtureGuest($input: GuestSessionInput!) {\n    startGuestSession(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": typeof types.FixtureGuestDocument,
    "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n        user {\n          id\n          email\n          kind\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n      ... on ValidationError {\n        issues {\n          path\n          message\n        }\n      }\n      ... on ConflictError {\n        field\n      }\n    }\n  }\n": typeof types.SignUpDocument,
    "\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.LogInDocument,
    "\n  query Me {\n    me {\n      id\n      email\n      displayName\n      kind\n      memberships {\n        role\n        workspace {\n          id\n          name\n        }\n      }\n    }\n  }\n": typeof types.MeDocument,
    "\n  mutation CreateWorkspace($name: String!) {\n    createWorkspace(input: { name: $name }) {\n      __typename\n      ... on Workspace {\n        id\n        name\n        viewerRole\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.CreateWorkspaceDocument,
    "\n  mutation IssueApiKey($workspaceId: ID!, $name: String!) {\n    issueApiKey(input: { workspaceId: $workspaceId, name: $name }) {\n      __typename\n      ... on IssuedApiKey {\n        secret\n        apiKey {\n          id\n          prefix\n          revokedAt\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.IssueApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      __typename\n      ... on ApiKey {\n        id\n        revokedAt\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.RevokeApiKeyDocument,
    "\n  query Workspace($id: ID!) {\n    workspace(id: $id) {\n      id\n      name\n      viewerRole\n      apiKeys {\n        id\n        name\n      }\n    }\n  }\n": typeof types.WorkspaceDocument,
    "\n  query MyWorkspaces {\n    myWorkspaces {\n      id\n    }\n  }\n": typeof types.MyWorkspacesDocument,
    "\n  mutation Refresh($token: String!) {\n    refreshSession(refreshToken: $token) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.RefreshDocument,
    "\n  mutation GuestSession($input: GuestSessionInput!) {\n    startGuestSession(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        sessionId\n        user {\n          id\n          kind\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.GuestSessionDocument,
    "\n  mutation CreateProduct($input: CreateProductInput!) {\n    createProduct(input: $input) {\n      __typename\n      ... on Product {\n        id\n        slug\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.CreateProductDocument,
    "\n  query Products($workspaceId: ID!, $audience: ProductAudience!) {\n    products(workspaceId: $workspaceId, audience: $audience) {\n      slug\n      name\n    }\n  }\n": typeof types.ProductsDocument,
    "\n  mutation AddMember($input: AddWorkspaceMemberInput!) {\n    addWorkspaceMember(input: $input) {\n      __typename\n      ... on Membership {\n        role\n        user {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": typeof types.AddMemberDocument,
    "\n  mutation PlatformSignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n      }\n    }\n  }\n": typeof types.PlatformSignUpDocument,
    "\n  mutation PlatformLogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      __typename\n      ... on AuthPayload {\n        user {\n          email\n        }\n      }\n    }\n  }\n": typeof types.PlatformLogInDocument,
    "\n  query PlatformMe {\n    me {\n      id\n    }\n  }\n": typeof types.PlatformMeDocument,
};
const documents: Documents = {
    "\n  query Legacy003Me {\n    me {\n      id\n      displayName\n    }\n  }\n": types.Legacy003MeDocument,
    "\n  mutation ConvCreateRoom($input: CreateRoomInput!) {\n    createRoom(input: $input) {\n      __typename\n      ... on Room {\n        id\n        roomType\n        members {\n          user {\n            id\n          }\n          role\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.ConvCreateRoomDocument,
    "\n  mutation ConvSend($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      __typename\n      ... on Message {\n        id\n        seq\n        body\n        author {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n      ... on ValidationError {\n        issues {\n          path\n          message\n        }\n      }\n    }\n  }\n": types.ConvSendDocument,
    "\n  query ConvHistory($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {\n    conversation(id: $id) {\n      id\n      lastSeq\n      viewerUnreadCount\n      messages(first: $first, after: $after, last: $last, before: $before) {\n        edges {\n          cursor\n          node {\n            seq\n            body\n          }\n        }\n        pageInfo {\n          hasNextPage\n          hasPreviousPage\n          endCursor\n          startCursor\n        }\n      }\n    }\n  }\n": types.ConvHistoryDocument,
    "\n  subscription ConvEvents($id: ID!, $after: Int) {\n    conversationEvents(conversationId: $id, after: $after) {\n      type\n      seq\n      userId\n      message {\n        id\n        seq\n        body\n      }\n    }\n  }\n": types.ConvEventsDocument,
    "\n  mutation ConvEdit($id: ID!, $body: String!) {\n    editMessage(id: $id, body: $body) {\n      __typename\n      ... on Message {\n        body\n        editedAt\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.ConvEditDocument,
    "\n  mutation ConvRemoveMember($conversationId: ID!, $userId: ID!) {\n    removeConversationMember(conversationId: $conversationId, userId: $userId) {\n      __typename\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.ConvRemoveMemberDocument,
    "\n  mutation ConvOpenDirect($workspaceId: ID!, $userId: ID!) {\n    openDirectThread(workspaceId: $workspaceId, userId: $userId) {\n      __typename\n      ... on Thread {\n        id\n        direct\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.ConvOpenDirectDocument,
    "\n  mutation FixtureSignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": types.FixtureSignUpDocument,
    "\n  mutation FixtureCreateWorkspace($name: String!) {\n    createWorkspace(input: { name: $name }) {\n      __typename\n      ... on Workspace {\n        id\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": types.FixtureCreateWorkspaceDocument,
    "\n  mutation FixtureAddMember($input: AddWorkspaceMemberInput!) {\n    addWorkspaceMember(input: $input) {\n      __typename\n      ... on Error {\n        message\n      }\n    }\n  }\n": types.FixtureAddMemberDocument,
    "\n  mutation FixtureGuest($input: GuestSessionInput!) {\n    startGuestSession(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": types.FixtureGuestDocument,
    "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n        user {\n          id\n          email\n          kind\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n      ... on ValidationError {\n        issues {\n          path\n          message\n        }\n      }\n      ... on ConflictError {\n        field\n      }\n    }\n  }\n": types.SignUpDocument,
    "\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.LogInDocument,
    "\n  query Me {\n    me {\n      id\n      email\n      displayName\n      kind\n      memberships {\n        role\n        workspace {\n          id\n          name\n        }\n      }\n    }\n  }\n": types.MeDocument,
    "\n  mutation CreateWorkspace($name: String!) {\n    createWorkspace(input: { name: $name }) {\n      __typename\n      ... on Workspace {\n        id\n        name\n        viewerRole\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.CreateWorkspaceDocument,
    "\n  mutation IssueApiKey($workspaceId: ID!, $name: String!) {\n    issueApiKey(input: { workspaceId: $workspaceId, name: $name }) {\n      __typename\n      ... on IssuedApiKey {\n        secret\n        apiKey {\n          id\n          prefix\n          revokedAt\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.IssueApiKeyDocument,
    "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      __typename\n      ... on ApiKey {\n        id\n        revokedAt\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.RevokeApiKeyDocument,
    "\n  query Workspace($id: ID!) {\n    workspace(id: $id) {\n      id\n      name\n      viewerRole\n      apiKeys {\n        id\n        name\n      }\n    }\n  }\n": types.WorkspaceDocument,
    "\n  query MyWorkspaces {\n    myWorkspaces {\n      id\n    }\n  }\n": types.MyWorkspacesDocument,
    "\n  mutation Refresh($token: String!) {\n    refreshSession(refreshToken: $token) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.RefreshDocument,
    "\n  mutation GuestSession($input: GuestSessionInput!) {\n    startGuestSession(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        sessionId\n        user {\n          id\n          kind\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.GuestSessionDocument,
    "\n  mutation CreateProduct($input: CreateProductInput!) {\n    createProduct(input: $input) {\n      __typename\n      ... on Product {\n        id\n        slug\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.CreateProductDocument,
    "\n  query Products($workspaceId: ID!, $audience: ProductAudience!) {\n    products(workspaceId: $workspaceId, audience: $audience) {\n      slug\n      name\n    }\n  }\n": types.ProductsDocument,
    "\n  mutation AddMember($input: AddWorkspaceMemberInput!) {\n    addWorkspaceMember(input: $input) {\n      __typename\n      ... on Membership {\n        role\n        user {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n": types.AddMemberDocument,
    "\n  mutation PlatformSignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n      }\n    }\n  }\n": types.PlatformSignUpDocument,
    "\n  mutation PlatformLogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      __typename\n      ... on AuthPayload {\n        user {\n          email\n        }\n      }\n    }\n  }\n": types.PlatformLogInDocument,
    "\n  query PlatformMe {\n    me {\n      id\n    }\n  }\n": types.PlatformMeDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Legacy003Me {\n    me {\n      id\n      displayName\n    }\n  }\n"): (typeof documents)["\n  query Legacy003Me {\n    me {\n      id\n      displayName\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ConvCreateRoom($input: CreateRoomInput!) {\n    createRoom(input: $input) {\n      __typename\n      ... on Room {\n        id\n        roomType\n        members {\n          user {\n            id\n          }\n          role\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation ConvCreateRoom($input: CreateRoomInput!) {\n    createRoom(input: $input) {\n      __typename\n      ... on Room {\n        id\n        roomType\n        members {\n          user {\n            id\n          }\n          role\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ConvSend($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      __typename\n      ... on Message {\n        id\n        seq\n        body\n        author {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n      ... on ValidationError {\n        issues {\n          path\n          message\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation ConvSend($input: SendMessageInput!) {\n    sendMessage(input: $input) {\n      __typename\n      ... on Message {\n        id\n        seq\n        body\n        author {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n      ... on ValidationError {\n        issues {\n          path\n          message\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ConvHistory($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {\n    conversation(id: $id) {\n      id\n      lastSeq\n      viewerUnreadCount\n      messages(first: $first, after: $after, last: $last, before: $before) {\n        edges {\n          cursor\n          node {\n            seq\n            body\n          }\n        }\n        pageInfo {\n          hasNextPage\n          hasPreviousPage\n          endCursor\n          startCursor\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query ConvHistory($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {\n    conversation(id: $id) {\n      id\n      lastSeq\n      viewerUnreadCount\n      messages(first: $first, after: $after, last: $last, before: $before) {\n        edges {\n          cursor\n          node {\n            seq\n            body\n          }\n        }\n        pageInfo {\n          hasNextPage\n          hasPreviousPage\n          endCursor\n          startCursor\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription ConvEvents($id: ID!, $after: Int) {\n    conversationEvents(conversationId: $id, after: $after) {\n      type\n      seq\n      userId\n      message {\n        id\n        seq\n        body\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription ConvEvents($id: ID!, $after: Int) {\n    conversationEvents(conversationId: $id, after: $after) {\n      type\n      seq\n      userId\n      message {\n        id\n        seq\n        body\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ConvEdit($id: ID!, $body: String!) {\n    editMessage(id: $id, body: $body) {\n      __typename\n      ... on Message {\n        body\n        editedAt\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation ConvEdit($id: ID!, $body: String!) {\n    editMessage(id: $id, body: $body) {\n      __typename\n      ... on Message {\n        body\n        editedAt\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ConvRemoveMember($conversationId: ID!, $userId: ID!) {\n    removeConversationMember(conversationId: $conversationId, userId: $userId) {\n      __typename\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation ConvRemoveMember($conversationId: ID!, $userId: ID!) {\n    removeConversationMember(conversationId: $conversationId, userId: $userId) {\n      __typename\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ConvOpenDirect($workspaceId: ID!, $userId: ID!) {\n    openDirectThread(workspaceId: $workspaceId, userId: $userId) {\n      __typename\n      ... on Thread {\n        id\n        direct\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation ConvOpenDirect($workspaceId: ID!, $userId: ID!) {\n    openDirectThread(workspaceId: $workspaceId, userId: $userId) {\n      __typename\n      ... on Thread {\n        id\n        direct\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation FixtureSignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation FixtureSignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation FixtureCreateWorkspace($name: String!) {\n    createWorkspace(input: { name: $name }) {\n      __typename\n      ... on Workspace {\n        id\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation FixtureCreateWorkspace($name: String!) {\n    createWorkspace(input: { name: $name }) {\n      __typename\n      ... on Workspace {\n        id\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation FixtureAddMember($input: AddWorkspaceMemberInput!) {\n    addWorkspaceMember(input: $input) {\n      __typename\n      ... on Error {\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation FixtureAddMember($input: AddWorkspaceMemberInput!) {\n    addWorkspaceMember(input: $input) {\n      __typename\n      ... on Error {\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation FixtureGuest($input: GuestSessionInput!) {\n    startGuestSession(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation FixtureGuest($input: GuestSessionInput!) {\n    startGuestSession(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n        user {\n          id\n          email\n          kind\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n      ... on ValidationError {\n        issues {\n          path\n          message\n        }\n      }\n      ... on ConflictError {\n        field\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n        user {\n          id\n          email\n          kind\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n      ... on ValidationError {\n        issues {\n          path\n          message\n        }\n      }\n      ... on ConflictError {\n        field\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation LogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n        user {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Me {\n    me {\n      id\n      email\n      displayName\n      kind\n      memberships {\n        role\n        workspace {\n          id\n          name\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Me {\n    me {\n      id\n      email\n      displayName\n      kind\n      memberships {\n        role\n        workspace {\n          id\n          name\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateWorkspace($name: String!) {\n    createWorkspace(input: { name: $name }) {\n      __typename\n      ... on Workspace {\n        id\n        name\n        viewerRole\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateWorkspace($name: String!) {\n    createWorkspace(input: { name: $name }) {\n      __typename\n      ... on Workspace {\n        id\n        name\n        viewerRole\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation IssueApiKey($workspaceId: ID!, $name: String!) {\n    issueApiKey(input: { workspaceId: $workspaceId, name: $name }) {\n      __typename\n      ... on IssuedApiKey {\n        secret\n        apiKey {\n          id\n          prefix\n          revokedAt\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation IssueApiKey($workspaceId: ID!, $name: String!) {\n    issueApiKey(input: { workspaceId: $workspaceId, name: $name }) {\n      __typename\n      ... on IssuedApiKey {\n        secret\n        apiKey {\n          id\n          prefix\n          revokedAt\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      __typename\n      ... on ApiKey {\n        id\n        revokedAt\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation RevokeApiKey($id: ID!) {\n    revokeApiKey(id: $id) {\n      __typename\n      ... on ApiKey {\n        id\n        revokedAt\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Workspace($id: ID!) {\n    workspace(id: $id) {\n      id\n      name\n      viewerRole\n      apiKeys {\n        id\n        name\n      }\n    }\n  }\n"): (typeof documents)["\n  query Workspace($id: ID!) {\n    workspace(id: $id) {\n      id\n      name\n      viewerRole\n      apiKeys {\n        id\n        name\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MyWorkspaces {\n    myWorkspaces {\n      id\n    }\n  }\n"): (typeof documents)["\n  query MyWorkspaces {\n    myWorkspaces {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Refresh($token: String!) {\n    refreshSession(refreshToken: $token) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation Refresh($token: String!) {\n    refreshSession(refreshToken: $token) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        refreshToken\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation GuestSession($input: GuestSessionInput!) {\n    startGuestSession(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        sessionId\n        user {\n          id\n          kind\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation GuestSession($input: GuestSessionInput!) {\n    startGuestSession(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n        sessionId\n        user {\n          id\n          kind\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateProduct($input: CreateProductInput!) {\n    createProduct(input: $input) {\n      __typename\n      ... on Product {\n        id\n        slug\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateProduct($input: CreateProductInput!) {\n    createProduct(input: $input) {\n      __typename\n      ... on Product {\n        id\n        slug\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Products($workspaceId: ID!, $audience: ProductAudience!) {\n    products(workspaceId: $workspaceId, audience: $audience) {\n      slug\n      name\n    }\n  }\n"): (typeof documents)["\n  query Products($workspaceId: ID!, $audience: ProductAudience!) {\n    products(workspaceId: $workspaceId, audience: $audience) {\n      slug\n      name\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation AddMember($input: AddWorkspaceMemberInput!) {\n    addWorkspaceMember(input: $input) {\n      __typename\n      ... on Membership {\n        role\n        user {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation AddMember($input: AddWorkspaceMemberInput!) {\n    addWorkspaceMember(input: $input) {\n      __typename\n      ... on Membership {\n        role\n        user {\n          id\n        }\n      }\n      ... on Error {\n        code\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PlatformSignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation PlatformSignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      __typename\n      ... on AuthPayload {\n        accessToken\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PlatformLogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      __typename\n      ... on AuthPayload {\n        user {\n          email\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation PlatformLogIn($input: LogInInput!) {\n    logIn(input: $input) {\n      __typename\n      ... on AuthPayload {\n        user {\n          email\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PlatformMe {\n    me {\n      id\n    }\n  }\n"): (typeof documents)["\n  query PlatformMe {\n    me {\n      id\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;