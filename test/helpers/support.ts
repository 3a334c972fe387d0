/** Support-desk factories: API keys, products, line managers and tickets, through the API itself. */
import { graphql } from '../gql/index.js';
import type { OpenTicketInput } from '../gql/graphql.js';
import type { TestApp } from './app.js';

const IssueKey = graphql(`
  mutation SupportFixtureIssueKey($workspaceId: ID!) {
    issueApiKey(input: { workspaceId: $workspaceId, name: "support" }) {
      __typename
      ... on IssuedApiKey {
        secret
      }
      ... on Error {
        message
      }
    }
  }
`);

const CreateProduct = graphql(`
  mutation SupportFixtureProduct($input: CreateProductInput!) {
    createProduct(input: $input) {
      __typename
      ... on Product {
        id
        slug
      }
      ... on Error {
        message
      }
    }
  }
`);

export const CreateLineManagerDoc = graphql(`
  mutation SupportCreateLineManager($input: CreateLineManagerInput!) {
    createLineManager(input: $input) {
      __typename
      ... on LineManager {
        id
        positionInLine
        capacity
        openTicketCount
        averageServingSeconds
        user {
          id
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

export const OpenTicketDoc = graphql(`
  mutation SupportOpenTicket($input: OpenTicketInput!) {
    openTicket(input: $input) {
      __typename
      ... on Ticket {
        id
        status
        priority
        queuePosition
        estimatedWaitSeconds
        lineManager {
          id
        }
        customer {
          id
        }
        product {
          slug
        }
        topic {
          id
          name
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

export const CloseTicketDoc = graphql(`
  mutation SupportCloseTicket($input: CloseTicketInput!) {
    closeTicket(input: $input) {
      __typename
      ... on Ticket {
        id
        status
        closeNote
        closedAt
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

export async function apiKey(t: TestApp, workspaceId: string, adminToken: string): Promise<string> {
  const res = await t.exec(IssueKey, { workspaceId }, { token: adminToken });
  const issued = res.data?.issueApiKey;
  if (issued?.__typename !== 'IssuedApiKey') throw new Error(`issueApiKey: ${JSON.stringify(res)}`);
  return issued.secret;
}

let n = 0;
export async function product(t: TestApp, token: string, workspaceId: string, slug = `product-${++n}`): Promise<{ id: string; slug: string }> {
  const res = await t.exec(CreateProduct, { input: { workspaceId, slug, name: slug } }, { token });
  const p = res.data?.createProduct;
  if (p?.__typename !== 'Product') throw new Error(`createProduct: ${JSON.stringify(res)}`);
  return { id: p.id, slug: p.slug };
}

export async function lineManager(
  t: TestApp,
  token: string,
  input: { workspaceId: string; userId: string; capacity?: number; positionInLine?: number; averageServingSeconds?: number },
): Promise<string> {
  const res = await t.exec(CreateLineManagerDoc, { input }, { token });
  const lm = res.data?.createLineManager;
  if (lm?.__typename !== 'LineManager') throw new Error(`createLineManager: ${JSON.stringify(res)}`);
  return lm.id;
}

export async function openTicket(t: TestApp, token: string, input: OpenTicketInput) {
  const res = await t.exec(OpenTicketDoc, { input }, { token });
  const ticket = res.data?.openTicket;
  if (ticket?.__typename !== 'Ticket') throw new Error(`openTicket: ${JSON.stringify(res)}`);
  return ticket;
}

export async function closeTicket(t: TestApp, token: string, ticketId: string, note?: string) {
  const res = await t.exec(CloseTicketDoc, { input: { ticketId, note } }, { token });
  return res.data!.closeTicket;
}
