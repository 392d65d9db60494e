import { Inject, Injectable } from '@nestjs/common';
import nodemailer from 'nodemailer';
import { APP_CONFIG } from '../../app.tokens.js';
import type { AppConfig } from '../../config/config.js';

export interface InvitationMail {
  to: string;
  link: string;
  workspaceName: string;
  role: string;
  expiresAt: Date;
}

/** Sends invitation links by email when an SMTP server is configured (LATCHKEY_SMTP_*). */
@Injectable()
export class InvitationMailer {
  private readonly transport;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const smtp = config.smtp;
    this.transport = smtp
      ? nodemailer.createTransport(
          typeof smtp.transport === 'string'
            ? smtp.transport
            : {
                ...smtp.transport,
                connectionTimeout: 10_000,
                greetingTimeout: 10_000,
                socketTimeout: 20_000,
              },
        )
      : undefined;
  }

  get enabled(): boolean {
    return this.transport !== undefined;
  }

  async send(mail: InvitationMail): Promise<void> {
    if (!this.transport || !this.config.smtp) throw new Error('No SMTP server is configured');
    const text = [
      `You have been invited to the Latchkey workspace "${mail.workspaceName}" as ${mail.role}.`,
      '',
      `Accept the invitation: ${mail.link}`,
      '',
      `The link works once and expires on ${mail.expiresAt.toUTCString()}.`,
    ].join('\n');
    await this.transport.sendMail({
      from: this.config.smtp.from,
      to: mail.to,
      subject: `Invitation to ${mail.workspaceName} on Latchkey`,
      text,
    });
  }
}
