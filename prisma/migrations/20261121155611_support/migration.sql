-- CreateEnum
CREATE TYPE "TicketStatus" AS ENUM ('OPEN', 'ASSIGNED', 'WAITING', 'CLOSED');

-- CreateEnum
CREATE TYPE "TicketPriority" AS ENUM ('LOW', 'NORMAL', 'HIGH', 'URGENT');

-- CreateEnum
CREATE TYPE "ClaimReleaseReason" AS ENUM ('RELEASED', 'EXPIRED', 'CLOSED', 'DISCONNECTED');

-- CreateTable
CREATE TABLE "SupportTopic" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "archivedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "SupportTopic_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LineManager" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "positionInLine" INTEGER NOT NULL,
    "capacity" INTEGER NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "openTicketCount" INTEGER NOT NULL DEFAULT 0,
    "seededServingSeconds" DOUBLE PRECISION,
    "servedTicketCount" INTEGER NOT NULL DEFAULT 0,
    "servingSecondsTotal" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "LineManager_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SupportDesk" (
    "workspaceId" UUID NOT NULL,
    "queueVersion" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "SupportDesk_pkey" PRIMARY KEY ("workspaceId")
);

-- CreateTable
CREATE TABLE "SupportTicket" (
    "conversationId" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "topicId" UUID,
    "customerId" UUID NOT NULL,
    "status" "TicketStatus" NOT NULL DEFAULT 'OPEN',
    "priority" "TicketPriority" NOT NULL DEFAULT 'NORMAL',
    "lineManagerId" UUID,
    "queueNumber" INTEGER NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "assignedAt" TIMESTAMPTZ(3),
    "closedAt" TIMESTAMPTZ(3),
    "closedById" UUID,
    "closeNote" TEXT,
    "reopenCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "SupportTicket_pkey" PRIMARY KEY ("conversationId")
);

-- CreateTable
CREATE TABLE "ConversationAttention" (
    "conversationId" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "awaitingSince" TIMESTAMPTZ(3),
    "lastCustomerSeq" INTEGER NOT NULL DEFAULT 0,
    "lastStaffSeq" INTEGER NOT NULL DEFAULT 0,
    "keywords" TEXT[],
    "urgency" INTEGER NOT NULL DEFAULT 0,
    "urgent" BOOLEAN NOT NULL DEFAULT false,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ConversationAttention_pkey" PRIMARY KEY ("conversationId")
);

-- CreateTable
CREATE TABLE "ConversationClaim" (
    "id" UUID NOT NULL,
    "conversationId" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "target" TEXT NOT NULL,
    "messageId" UUID,
    "holderId" UUID NOT NULL,
    "claimedAt" TIMESTAMPTZ(3) NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,
    "releasedAt" TIMESTAMPTZ(3),
    "releaseReason" "ClaimReleaseReason",

    CONSTRAINT "ConversationClaim_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "SupportTopic_workspaceId_name_key" ON "SupportTopic"("workspaceId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "LineManager_workspaceId_userId_key" ON "LineManager"("workspaceId", "userId");

-- CreateIndex
CREATE INDEX "SupportTicket_workspaceId_status_queueNumber_idx" ON "SupportTicket"("workspaceId", "status", "queueNumber");

-- CreateIndex
CREATE INDEX "SupportTicket_lineManagerId_status_idx" ON "SupportTicket"("lineManagerId", "status");

-- CreateIndex
CREATE INDEX "SupportTicket_customerId_idx" ON "SupportTicket"("customerId");

-- CreateIndex
CREATE INDEX "ConversationAttention_workspaceId_awaitingSince_idx" ON "ConversationAttention"("workspaceId", "awaitingSince");

-- CreateIndex
CREATE INDEX "ConversationAttention_awaitingSince_idx" ON "ConversationAttention"("awaitingSince");

-- CreateIndex
CREATE INDEX "ConversationClaim_holderId_releasedAt_idx" ON "ConversationClaim"("holderId", "releasedAt");

-- CreateIndex
CREATE INDEX "ConversationClaim_releasedAt_expiresAt_idx" ON "ConversationClaim"("releasedAt", "expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "ConversationClaim_conversationId_target_key" ON "ConversationClaim"("conversationId", "target");

-- AddForeignKey
ALTER TABLE "SupportTopic" ADD CONSTRAINT "SupportTopic_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LineManager" ADD CONSTRAINT "LineManager_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LineManager" ADD CONSTRAINT "LineManager_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SupportDesk" ADD CONSTRAINT "SupportDesk_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SupportTicket" ADD CONSTRAINT "SupportTicket_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SupportTicket" ADD CONSTRAINT "SupportTicket_topicId_fkey" FOREIGN KEY ("topicId") REFERENCES "SupportTopic"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SupportTicket" ADD CONSTRAINT "SupportTicket_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SupportTicket" ADD CONSTRAINT "SupportTicket_closedById_fkey" FOREIGN KEY ("closedById") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SupportTicket" ADD CONSTRAINT "SupportTicket_lineManagerId_fkey" FOREIGN KEY ("lineManagerId") REFERENCES "LineManager"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ConversationAttention" ADD CONSTRAINT "ConversationAttention_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ConversationClaim" ADD CONSTRAINT "ConversationClaim_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ConversationClaim" ADD CONSTRAINT "ConversationClaim_messageId_fkey" FOREIGN KEY ("messageId") REFERENCES "Message"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ConversationClaim" ADD CONSTRAINT "ConversationClaim_holderId_fkey" FOREIGN KEY ("holderId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
