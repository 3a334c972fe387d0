-- AlterTable
ALTER TABLE "RefreshToken" ADD COLUMN     "familyId" UUID;

-- CreateIndex
CREATE INDEX "RefreshToken_familyId_idx" ON "RefreshToken"("familyId");
