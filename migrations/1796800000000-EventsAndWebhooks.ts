import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Events (the audit log and the outbox) and webhooks (issue 21): endpoints, one delivery per event
 * and endpoint written in the event's transaction, and every attempt.
 */
export class EventsAndWebhooks1796800000000 implements MigrationInterface {
  name = 'EventsAndWebhooks1796800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "events" ("id" uuid NOT NULL, "seq" BIGSERIAL NOT NULL, "type" character varying(64) NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "workspace_id" uuid, "actor_kind" character varying(16) NOT NULL, "actor_id" character varying(255) NOT NULL, "subject_kind" character varying(32) NOT NULL, "subject_id" character varying(255) NOT NULL, "request_id" character varying(64), "data" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_events" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "idx_events_occurred_at" ON "events" ("occurred_at")`);
    await q.query(
      `CREATE INDEX "idx_events_workspace_actor" ON "events" ("workspace_id", "actor_id", "seq")`,
    );
    await q.query(
      `CREATE INDEX "idx_events_workspace_subject" ON "events" ("workspace_id", "subject_id", "seq")`,
    );
    await q.query(
      `CREATE INDEX "idx_events_workspace_type" ON "events" ("workspace_id", "type", "seq")`,
    );
    await q.query(`CREATE INDEX "idx_events_workspace" ON "events" ("workspace_id", "seq")`);
    await q.query(
      `CREATE TABLE "webhook_endpoints" ("id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "url" text NOT NULL, "description" character varying(200), "event_types" text array, "enabled" boolean NOT NULL DEFAULT true, "secret_enc" text NOT NULL, "previous_secret_enc" text, "previous_secret_expires_at" TIMESTAMP WITH TIME ZONE, "failing_since" TIMESTAMP WITH TIME ZONE, "disabled_reason" character varying(200), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_webhook_endpoints" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE INDEX "idx_webhook_endpoints_workspace" ON "webhook_endpoints" ("workspace_id", "created_at", "id")`,
    );
    await q.query(
      `CREATE TABLE "webhook_deliveries" ("id" uuid NOT NULL, "workspace_id" uuid NOT NULL, "endpoint_id" uuid NOT NULL, "event_id" uuid NOT NULL, "status" character varying(16) NOT NULL, "attempts" integer NOT NULL DEFAULT '0', "next_attempt_at" TIMESTAMP WITH TIME ZONE, "lease_owner" character varying(64), "lease_expires_at" TIMESTAMP WITH TIME ZONE, "last_status_code" integer, "last_error" character varying(300), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "delivered_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "chk_webhook_deliveries_status" CHECK ("status" IN ('pending', 'delivered', 'failed')), CONSTRAINT "PK_webhook_deliveries" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE INDEX "idx_webhook_deliveries_due" ON "webhook_deliveries" ("next_attempt_at") WHERE "status" = 'pending'`,
    );
    await q.query(
      `CREATE INDEX "idx_webhook_deliveries_endpoint" ON "webhook_deliveries" ("endpoint_id", "created_at", "id")`,
    );
    await q.query(
      `CREATE UNIQUE INDEX "uq_webhook_deliveries_event_endpoint" ON "webhook_deliveries" ("event_id", "endpoint_id")`,
    );
    await q.query(
      `CREATE TABLE "webhook_attempts" ("id" uuid NOT NULL, "delivery_id" uuid NOT NULL, "attempted_at" TIMESTAMP WITH TIME ZONE NOT NULL, "status_code" integer, "duration_ms" integer NOT NULL, "response_excerpt" character varying(500), "error" character varying(300), CONSTRAINT "PK_webhook_attempts" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE INDEX "idx_webhook_attempts_delivery" ON "webhook_attempts" ("delivery_id", "attempted_at")`,
    );
    await q.query(
      `ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_0b882c26a9b91c26e6e86b4867c" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await q.query(
      `ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_27d1ee90033bdafe0ffe8f1be6f" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await q.query(
      `ALTER TABLE "webhook_attempts" ADD CONSTRAINT "FK_0d56d91d61b827bb2079c256538" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "webhook_attempts"`);
    await q.query(`DROP TABLE "webhook_deliveries"`);
    await q.query(`DROP TABLE "webhook_endpoints"`);
    await q.query(`DROP TABLE "events"`);
  }
}
