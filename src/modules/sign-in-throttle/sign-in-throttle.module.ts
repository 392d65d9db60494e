import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthFailureWindow } from './auth-failure-window.entity.js';
import { SignInThrottle } from './sign-in-throttle.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([AuthFailureWindow])],
  providers: [SignInThrottle],
  exports: [SignInThrottle],
})
export class SignInThrottleModule {}
