-- CreateEnum
CREATE TYPE "ConversationChangeType" AS ENUM ('MESSAGE_EDITED', 'MESSAGE_DELETED', 'REACTION_ADDED', 'REACTION_REMOVED', 'MESSAGE_PINNED', 'MESSAGE_UNPINNED');

-- CreateEnum
CREATE TYPE "NotificationKind" AS ENUM ('MENTION', 'REPLY', 'TICKET_ASSIGNED', 'MISSED_CALL');

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "lastPosition" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "mentions" JSONB NOT NULL DEFAULT '[]',
ADD COLUMN     "pinnedAt" TIMESTAMPTZ(3),
ADD COLUMN     "pinnedById" UUID,
ADD COLUMN     "position" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "reactionSummary" JSONB NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "User" ADD COLUMN     "notificationSeq" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "username" TEXT,
ADD COLUMN     "usernameKey" TEXT;

-- CreateTable
CREATE TABLE "UsernameClaim" (
    "key" TEXT NOT NULL,
    "userId" UUID NOT NULL,
    "heldUntil" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UsernameClaim_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "Reaction" (
    "messageId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "emoji" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Reaction_pkey" PRIMARY KEY ("messageId","userId","emoji")
);

-- CreateTable
CREATE TABLE "ConversationChange" (
    "conversationId" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "type" "ConversationChangeType" NOT NULL,
    "messageId" UUID NOT NULL,
    "userId" UUID,
    "emoji" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ConversationChange_pkey" PRIMARY KEY ("conversationId","position")
);

-- CreateTable
CREATE TABLE "Notification" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "workspaceId" UUID NOT NULL,
    "kind" "NotificationKind" NOT NULL,
    "conversationId" UUID,
    "messageId" UUID,
    "callId" UUID,
    "actorId" UUID,
    "excerpt" TEXT NOT NULL DEFAULT '',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "readAt" TIMESTAMPTZ(3),

    CONSTRAINT "Notification_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "UsernameClaim_userId_idx" ON "UsernameClaim"("userId");

-- CreateIndex
CREATE INDEX "Reaction_messageId_emoji_createdAt_idx" ON "Reaction"("messageId", "emoji", "createdAt");

-- CreateIndex
CREATE INDEX "ConversationChange_messageId_idx" ON "ConversationChange"("messageId");

-- CreateIndex
CREATE INDEX "Notification_userId_readAt_idx" ON "Notification"("userId", "readAt");

-- CreateIndex
CREATE UNIQUE INDEX "Notification_userId_seq_key" ON "Notification"("userId", "seq");

-- CreateIndex
CREATE INDEX "Message_conversationId_position_idx" ON "Message"("conversationId", "position");

-- CreateIndex
CREATE INDEX "Message_conversationId_pinnedAt_idx" ON "Message"("conversationId", "pinnedAt");

-- CreateIndex
CREATE UNIQUE INDEX "User_usernameKey_key" ON "User"("usernameKey");

-- AddForeignKey
ALTER TABLE "UsernameClaim" ADD CONSTRAINT "UsernameClaim_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Reaction" ADD CONSTRAINT "Reaction_messageId_fkey" FOREIGN KEY ("messageId") REFERENCES "Message"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Reaction" ADD CONSTRAINT "Reaction_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ConversationChange" ADD CONSTRAINT "ConversationChange_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ConversationChange" ADD CONSTRAINT "ConversationChange_messageId_fkey" FOREIGN KEY ("messageId") REFERENCES "Message"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Data: existing messages take their seq as their stream position (no change existed before).
UPDATE "Message" SET "position" = "seq";
UPDATE "Conversation" SET "lastPosition" = "lastSeq";

-- Data: accounts the legacy shim made stood for a username with "<username>@users.legacy.invalid";
-- they get that username (when it follows the rules and is not reserved) and lose the stand-in email.
WITH legacy AS (
  SELECT id, split_part(email, '@', 1) AS name
  FROM "User"
  WHERE email LIKE '%@users.legacy.invalid'
), valid AS (
  SELECT id, name FROM legacy
  WHERE name ~ '^[a-z0-9][a-z0-9_.-]{1,30}[a-z0-9_]$'
    AND name NOT IN ('here', 'everyone', 'channel', 'all', 'admin', 'administrator', 'root', 'system', 'support', 'staff',
                     'moderator', 'me', 'null', 'undefined', 'api', 'help', 'anonymous', 'guest')
), claimed AS (
  INSERT INTO "UsernameClaim" ("key", "userId") SELECT name, id FROM valid ON CONFLICT DO NOTHING RETURNING "key", "userId"
)
UPDATE "User" u SET "username" = c."key", "usernameKey" = c."key", "email" = NULL
FROM claimed c WHERE u.id = c."userId";
