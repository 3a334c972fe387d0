-- CreateEnum
CREATE TYPE "MessageVisibility" AS ENUM ('PUBLIC', 'INTERNAL');

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "lastPublicSeq" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "ConversationMember" ADD COLUMN     "lastReadPublicSeq" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "publicSeq" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "visibility" "MessageVisibility" NOT NULL DEFAULT 'PUBLIC';

-- CreateTable
CREATE TABLE "CannedReply" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "ownerId" UUID,
    "scopeKey" TEXT NOT NULL,
    "shortCode" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "createdById" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "CannedReply_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TicketRating" (
    "id" UUID NOT NULL,
    "conversationId" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "closing" INTEGER NOT NULL,
    "customerId" UUID NOT NULL,
    "lineManagerId" UUID,
    "score" INTEGER NOT NULL,
    "comment" TEXT,
    "closedAt" TIMESTAMPTZ(3) NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TicketRating_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CannedReply_workspaceId_ownerId_idx" ON "CannedReply"("workspaceId", "ownerId");

-- CreateIndex
CREATE UNIQUE INDEX "CannedReply_workspaceId_scopeKey_shortCode_key" ON "CannedReply"("workspaceId", "scopeKey", "shortCode");

-- CreateIndex
CREATE INDEX "TicketRating_workspaceId_lineManagerId_createdAt_idx" ON "TicketRating"("workspaceId", "lineManagerId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "TicketRating_conversationId_closing_key" ON "TicketRating"("conversationId", "closing");

-- CreateIndex
CREATE INDEX "Message_conversationId_publicSeq_seq_idx" ON "Message"("conversationId", "publicSeq", "seq");

-- AddForeignKey
ALTER TABLE "CannedReply" ADD CONSTRAINT "CannedReply_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CannedReply" ADD CONSTRAINT "CannedReply_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TicketRating" ADD CONSTRAINT "TicketRating_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TicketRating" ADD CONSTRAINT "TicketRating_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TicketRating" ADD CONSTRAINT "TicketRating_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TicketRating" ADD CONSTRAINT "TicketRating_lineManagerId_fkey" FOREIGN KEY ("lineManagerId") REFERENCES "LineManager"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Written by hand: until now every message was public, so the customer's numbering is the
-- staff's numbering (and so are read marks).
UPDATE "Message" SET "publicSeq" = "seq";
UPDATE "Conversation" SET "lastPublicSeq" = "lastSeq";
UPDATE "ConversationMember" SET "lastReadPublicSeq" = "lastReadSeq";
